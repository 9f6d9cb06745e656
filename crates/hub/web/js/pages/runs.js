// Billing runs (operators): the recent runs with their status, progress and summary,
// followed while one is running, and the form that starts a run for a month. A month
// whose bills are final is billed again only after a confirmation (a rerun).

import { api, query } from '../api.js';
import { card, confirmAction, empty, fill, h, heading, table } from '../dom.js';
import * as format from '../format.js';

/** How often running runs are read again, ms. */
const POLL_MS = 1000;

/** A run's status as a coloured word. */
export function status(run) {
  return h('span', { class: `status ${run.status}` }, format.words(run.status));
}

/** A run's progress: a bar and the meters done of the meters to bill. */
export function progress(run) {
  const done = format.isNumber(run.meters_done) ? run.meters_done : 0;
  const total = format.isNumber(run.meters_total) ? run.meters_total : 0;
  const text = `${format.number(done, 0)} of ${format.number(total, 0)} meters`;
  return h('span', { class: 'progress' },
    h('progress', { max: String(Math.max(total, 1)), value: String(total === 0 ? 1 : done), 'aria-label': text }),
    ` ${text}`);
}

/** The money a run billed, one amount per currency. */
export function totals(summary) {
  const list = summary?.totals ?? [];
  if (list.length === 0) return format.DASH;
  return list.map((t) => format.money(t.total_minor, t.currency_digits, t.currency)).join(', ');
}

/** What a run did: bills made, failed, estimated and with findings. */
export function outcome(summary) {
  if (!summary) return format.DASH;
  const parts = [`${format.number(summary.billed, 0)} billed`];
  if (summary.failed) parts.push(`${format.number(summary.failed, 0)} failed`);
  if (summary.with_estimates) parts.push(`${format.number(summary.with_estimates, 0)} with estimates`);
  if (summary.with_findings) parts.push(`${format.number(summary.with_findings, 0)} with findings`);
  return parts.join(', ');
}

/** The month before this one, `YYYY-MM` (what is usually billed). */
function lastMonth() {
  const now = new Date();
  const date = new Date(now.getFullYear(), now.getMonth() - 1, 1);
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}`;
}

/** Renders the billing runs page. */
export async function render(container, { signal, onLeave }) {
  const list = h('div');
  const message = h('p', { class: 'form-message', role: 'status', id: 'run-message' });
  let timer = null;
  onLeave(() => clearTimeout(timer));

  const runsTable = (runs) => (runs.length === 0 ? empty('No billing runs yet: start one for a month.')
    : table('Billing runs', [
      { label: 'Run', cell: (r) => h('a', { href: `/portal/billing/${r.id}` }, `#${r.id}`) },
      { label: 'Month', cell: (r) => format.month(r.period) },
      { label: 'Status', cell: status },
      { label: 'Progress', cell: progress },
      { label: 'Outcome', cell: (r) => outcome(r.summary) },
      { label: 'Billed', numeric: true, cell: (r) => totals(r.summary) },
      { label: 'Started', cell: (r) => `${format.dateTime(r.started_ms)} by ${r.started_by}` },
      { label: 'Finished', cell: (r) => format.dateTime(r.finished_ms) },
    ], runs));

  // Reads the runs again, and again each second while one is running.
  const load = async () => {
    clearTimeout(timer);
    let running = false;
    await fill(list, () => api(`/billing/runs${query({ limit: 20 })}`, { signal }), (runs) => {
      running = runs.some((r) => r.status === 'running');
      return runsTable(runs);
    });
    if (running && !signal.aborted) timer = setTimeout(load, POLL_MS);
  };

  const start = async (period, rerun) => {
    const run = await api('/billing/runs', { method: 'POST', body: { period, rerun } });
    message.textContent = `Run #${run.id} started for ${format.month(period)}.`;
    load();
  };
  const month = h('input', { id: 'run-period', name: 'period', type: 'month', required: true, value: lastMonth() });
  const form = h('form', {
    id: 'run-form',
    onsubmit: async (event) => {
      event.preventDefault();
      const period = month.value;
      message.textContent = '';
      try {
        await start(period, false);
      } catch (error) {
        if (error.code !== 'period_closed') {
          message.textContent = `Not started: ${error.message}`;
          return;
        }
        const again = await confirmAction({
          title: `Bill ${format.month(period)} again?`,
          message: `${format.month(period)} is closed: its bills are final and customers may have them. `
            + 'A rerun replaces every bill of the month.',
          confirm: 'Bill it again',
        });
        if (!again) {
          message.textContent = `${format.month(period)} is closed; its bills were kept.`;
          return;
        }
        await start(period, true).catch((rerunError) => {
          message.textContent = `Not started: ${rerunError.message}`;
        });
      }
    },
  },
  h('label', { for: 'run-period' }, 'Month'),
  month,
  h('p', { class: 'note' }, 'Every meter with a tariff is billed for the month, in the plan’s own time zone.'),
  message,
  h('button', { type: 'submit' }, 'Start billing run'));

  container.replaceChildren(
    heading('Billing runs'),
    h('p', { class: 'sub' }, 'Bills are made by runs over a month; a run’s page lists its bills.'),
    card('Start a run', form),
    card('Recent runs', list));
  month.addEventListener('change', () => {
    message.textContent = '';
  });
  await load();
}

// One billing run (operators): its status, progress and summary (followed while it runs),
// the first errors, and the bills it made, each opening the bill page and its printable
// version.

import { api } from '../api.js';
import { card, empty, facts, failure, h, heading, loading, table } from '../dom.js';
import * as format from '../format.js';
import { outcome, progress, status, totals } from './runs.js';

/** How often a running run is read again, ms. */
const POLL_MS = 1000;

/** The bills table of a run. */
function billTable(bills) {
  if (bills.length === 0) return empty('This run made no bills: no meter with a tariff, or every one failed.');
  return table('Bills of this run', [
    { label: 'Meter', cell: (b) => h('a', { href: `/portal/meters/${encodeURIComponent(b.meter)}` }, b.meter) },
    { label: 'Month', cell: (b) => format.month(b.period) },
    { label: 'Plan', cell: (b) => b.plan },
    { label: 'Total', numeric: true, cell: (b) => format.money(b.total_minor, b.currency_digits, b.currency) },
    { label: 'Status', cell: (b) => (b.closed ? 'Final' : 'Being billed') },
    {
      label: 'Bill',
      cell: (b) => [
        h('a', { href: `/portal/bills/${encodeURIComponent(b.meter)}/${b.id}`, class: 'open-bill' }, 'Open'),
        ' · ',
        h('a', { href: `/api/v1/meters/${encodeURIComponent(b.meter)}/bills/${b.id}/html`, target: '_blank', rel: 'noopener' }, 'Printable'),
      ],
    },
  ], bills);
}

/** Renders run `params[0]`. */
export async function render(container, { params: [id], signal, onLeave }) {
  const about = h('div', {}, loading());
  const bills = h('div', {}, loading());
  let timer = null;
  onLeave(() => clearTimeout(timer));
  container.replaceChildren(
    heading(`Billing run #${id}`),
    h('p', { class: 'sub' }, h('a', { href: '/portal/billing' }, 'All billing runs')),
    card('Run', about),
    card('Bills', bills));

  const load = async () => {
    try {
      const run = await api(`/billing/runs/${encodeURIComponent(id)}`, { signal });
      const errors = run.summary?.errors ?? [];
      about.replaceChildren(
        facts([
          ['Month', format.month(run.period)],
          ['Status', status(run)],
          ['Progress', progress(run)],
          ['Outcome', outcome(run.summary)],
          ['Billed', h('span', { id: 'run-total' }, totals(run.summary))],
          ['Started', `${format.dateTime(run.started_ms)} by ${run.started_by}`],
          ['Finished', format.dateTime(run.finished_ms)],
        ]),
        errors.length === 0 ? []
          : h('details', {}, h('summary', {}, `First errors (${errors.length})`),
            h('ul', {}, errors.map((e) => h('li', {}, e)))));
      const made = await api(`/billing/runs/${encodeURIComponent(id)}/bills`, { signal });
      bills.replaceChildren(billTable(made));
      if (run.status === 'running') timer = setTimeout(load, POLL_MS);
    } catch (error) {
      if (error.name === 'AbortError') return;
      const shown = error.status === 404 ? empty(`There is no billing run #${id}.`) : failure(error);
      about.replaceChildren(shown);
      bills.replaceChildren();
    }
  };
  await load();
}

// The operators' events view: the operator's open alarms (alerts of their rules, to
// acknowledge or resolve), then the newest events of every meter (outages, tamper, power
// quality, switching), each linked to its meter; an alarm event with an open alert of its
// own can be acknowledged from its row.

import { api, query } from '../api.js';
import { card, empty, fill, h, heading, table } from '../dom.js';
import * as format from '../format.js';
import { alertsTable } from './alerts.js';

/** Kinds that need an operator's attention. */
const ALARMS = new Set(['cover_open', 'magnetic_field', 'current_without_voltage', 'neutral_mismatch', 'reverse_flow', 'interruption', 'alarm', 'register_store']);

/** The alert condition an alarm event raises (tamper kinds keep their name). */
function conditionOf(kind) {
  return kind === 'interruption' ? 'outage' : kind;
}

/** Renders the operator's open alarms and the newest events of the fleet. */
export async function render(container, { signal }) {
  const message = h('p', { class: 'form-message', role: 'status', id: 'alarm-message' });
  const alarms = h('div', { id: 'alarm-list' });
  const list = h('div', { id: 'event-list' });
  const unresolved = async () => {
    const [open, acknowledged] = await Promise.all(['open', 'acknowledged'].map((state) =>
      api(`/alerts${query({ state, limit: 200 })}`, { signal })));
    return [...open, ...acknowledged].sort((a, b) => b.id - a.id);
  };
  const acknowledge = (alert) => async () => {
    try {
      await api(`/alerts/${alert.id}/ack`, { method: 'POST' });
      message.textContent = `Alarm on ${alert.meter} acknowledged.`;
    } catch (error) {
      message.textContent = `Not acknowledged: ${error.message}`;
    }
    load();
  };
  const load = () => Promise.all([
    fill(alarms, unresolved, (open) => (open.length === 0
      ? empty('No open alarms. Alert rules of yours (e.g. tamper or outage on the fleet) raise them.')
      : alertsTable(open, message, load))),
    fill(list, async () => [await api(`/events${query({ limit: 200 })}`, { signal }), await unresolved()], ([events, open]) => {
      const openFor = (e) => open.find((a) => a.state === 'open' && a.meter === e.meter && a.condition === conditionOf(e.event.kind));
      return events.length === 0 ? empty('No meter has raised an event yet.')
        : table('Newest events of every meter', [
          { label: 'Time', cell: (e) => format.dateTime(e.event.ts_ms) },
          { label: 'Meter', cell: (e) => h('a', { href: `/portal/meters/${encodeURIComponent(e.meter)}` }, e.meter) },
          { label: 'Event', cell: (e) => h('span', { class: ALARMS.has(e.event.kind) ? 'status failed' : null }, format.words(e.event.kind)) },
          { label: 'State', cell: (e) => format.words(e.event.state) },
          { label: 'Detail', cell: (e) => e.event.detail ?? '' },
          {
            label: 'Alarm',
            cell: (e) => {
              const alert = ALARMS.has(e.event.kind) ? openFor(e) : undefined;
              return alert ? h('button', { type: 'button', class: 'secondary', onclick: acknowledge(alert) }, 'Acknowledge') : '';
            },
          },
        ], events);
    }),
  ]);
  container.replaceChildren(heading('Events and alarms'),
    h('p', { class: 'sub' }, 'Your open alarms, then the 200 newest events of every meter; alarms are marked. ',
      h('button', { type: 'button', class: 'secondary', onclick: load }, 'Refresh')),
    card('Unresolved alarms', message, alarms),
    card('Events', list));
  await load();
}

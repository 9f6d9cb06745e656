// The operators' events view: the newest events of every meter (outages, tamper, power
// quality, switching), each linked to its meter.

import { api, query } from '../api.js';
import { empty, fill, h, heading, table } from '../dom.js';
import * as format from '../format.js';

/** Kinds that need an operator's attention. */
const ALARMS = new Set(['cover_open', 'magnetic_field', 'current_without_voltage', 'neutral_mismatch', 'reverse_flow', 'interruption', 'alarm', 'register_store']);

/** Renders the newest events of the fleet. */
export async function render(container, { signal }) {
  const list = h('div');
  const load = () => fill(list, () => api(`/events${query({ limit: 200 })}`, { signal }), (events) =>
    events.length === 0 ? empty('No meter has raised an event yet.')
      : table('Newest events of every meter', [
        { label: 'Time', cell: (e) => format.dateTime(e.event.ts_ms) },
        { label: 'Meter', cell: (e) => h('a', { href: `/portal/meters/${encodeURIComponent(e.meter)}` }, e.meter) },
        { label: 'Event', cell: (e) => h('span', { class: ALARMS.has(e.event.kind) ? 'status failed' : null }, format.words(e.event.kind)) },
        { label: 'State', cell: (e) => format.words(e.event.state) },
        { label: 'Detail', cell: (e) => e.event.detail ?? '' },
      ], events));
  container.replaceChildren(heading('Events and alarms'),
    h('p', { class: 'sub' }, 'The 200 newest events of every meter; alarms are marked. ',
      h('button', { type: 'button', class: 'secondary', onclick: load }, 'Refresh')),
    list);
  await load();
}

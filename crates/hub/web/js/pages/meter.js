// One meter: live power over server-sent events, today's energy, status, recent events, and
// for operators the commands panel. A meter the user may not see is "not found" (the hub
// answers 404 for foreign meters as for missing ones).

import { api, follow, query } from '../api.js';
import { card, empty, facts, fill, h, heading, table } from '../dom.js';
import * as format from '../format.js';
import * as commands from './commands.js';

const WEEK_MS = 7 * 86_400_000;

/** The tabs of a meter's pages. */
export function tabs(id, current) {
  const base = `/portal/meters/${encodeURIComponent(id)}`;
  const links = [['Live and status', base], ['History', `${base}/history`]];
  return h('nav', { class: 'tabs', 'aria-label': 'Meter' },
    links.map(([label, path]) => h('a', { href: path, 'aria-current': label === current ? 'page' : null }, label)));
}

/** The meter `id`, or the not-found page drawn into `container` (then null). */
export async function meterOrNotFound(container, id, signal) {
  try {
    return await api(`/meters/${encodeURIComponent(id)}`, { signal });
  } catch (error) {
    if (error.status !== 404) throw error;
    container.replaceChildren(heading('Meter not found'),
      empty(`There is no meter “${id}” that you may see. Check the link, or open one of your meters.`),
      h('p', {}, h('a', { href: '/portal/meters' }, 'Your meters')));
    return null;
  }
}

/** The live power card; returns it and the function that shows a reading. */
function livePower() {
  const value = h('p', { id: 'live-power', class: 'big' }, format.DASH);
  const direction = h('p', { id: 'live-direction', class: 'direction' }, 'Waiting for the first reading…');
  const details = h('div');
  const state = h('span', { class: 'badge', id: 'live-state' }, 'connecting');
  const element = card('Live power', state, value, direction, details);
  const show = (reading) => {
    const watts = reading.p_w;
    value.textContent = format.power(Math.abs(watts));
    value.dataset.watts = String(watts);
    value.className = `big ${watts < 0 ? 'export' : 'import'}`;
    direction.textContent = watts < -1 ? '↑ Exporting to the grid (solar surplus)'
      : watts > 1 ? '↓ Importing from the grid' : 'No power flowing';
    details.replaceChildren(facts([
      ['Voltage', format.number(reading.voltage_v, 1, 'V')],
      ['Current', format.number(reading.current_a, 2, 'A')],
      ['Power factor', format.number(reading.pf, 2)],
      ['Frequency', format.number(reading.freq_hz, 2, 'Hz')],
      ['Reading at', format.timeOfDay(reading.ts_ms)],
    ]));
  };
  const setState = (text) => {
    state.textContent = text;
    state.className = `badge ${text === 'live' ? 'ok' : 'warn'}`;
  };
  return { element, show, setState };
}

/** Today's energy: the registers now minus at local midnight, kept current by readings. */
function today(id, signal) {
  const body = h('div');
  const element = card('Today', body);
  let midnightRegisters = null;
  let firstSeen = null;
  let last = null;
  let loaded = false;
  const content = () => {
    const start = midnightRegisters ?? firstSeen;
    if (!start || !last) return empty('No readings today yet.');
    const importWh = (last.import_mwh - start.import_mwh) / 1000;
    const exportWh = (last.export_mwh - start.export_mwh) / 1000;
    return [
      facts([
        ['Imported', h('span', { id: 'today-import' }, format.energy(importWh))],
        ['Exported', format.energy(exportWh)],
        ['Net', format.energy(importWh - exportWh)],
      ]),
      h('p', { class: 'note' }, 'Cost appears here once billing is enabled on this hub.'),
    ];
  };
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  const path = `/meters/${encodeURIComponent(id)}/series${query({ from_ms: midnight.getTime(), resolution: 'hour' })}`;
  fill(body, () => api(path, { signal }), (series) => {
    const first = series.points[0];
    if (first) midnightRegisters = { import_mwh: first.import_first_mwh, export_mwh: first.export_first_mwh };
    loaded = true;
    return content();
  });
  return {
    element,
    show(reading) {
      last = reading.registers;
      firstSeen ??= reading.registers;
      if (loaded) body.replaceChildren(...[content()].flat());
    },
  };
}

/** The status card, redrawn with each reading. */
function status(meter, gaps) {
  const body = h('div');
  const element = card('Status', body);
  const show = (reading) => {
    const missing = gaps.gaps.reduce((sum, gap) => sum + gap.to - gap.from + 1, 0);
    body.replaceChildren(facts([
      ['Connection', h('span', { id: 'meter-online' }, format.presence(meter.online))],
      ['Supply switch', h('span', { id: 'meter-relay' }, reading ? format.words(reading.relay) : format.DASH)],
      ['Tariff plan', meter.tariff ?? 'Not set'],
      ['Tariff register', reading ? `T${reading.tariff + 1}` : format.DASH],
      ['Last reading', reading ? `${format.dateTime(reading.ts_ms)} (${format.ago(reading.ts_ms)})` : 'None yet'],
      ['Missing messages', missing === 0 ? 'None' : `${missing} (being resent)`],
      ['Location', meter.location ?? format.DASH],
    ]));
  };
  show(null);
  return { element, show };
}

/** The meter's events of the last week, newest first; `reload()` fetches them again. */
function recentEvents(id, signal) {
  const body = h('div');
  const reload = () => fill(body, () => api(`/meters/${encodeURIComponent(id)}/events${query({ from_ms: Date.now() - WEEK_MS })}`, { signal }),
    (events) => events.length === 0 ? empty('No events in the last 7 days.')
      : table('Events of the last 7 days', [
        { label: 'Time', cell: (e) => format.dateTime(e.ts_ms) },
        { label: 'Event', cell: (e) => format.words(e.kind) },
        { label: 'State', cell: (e) => format.words(e.state) },
        { label: 'Detail', cell: (e) => e.detail ?? '' },
      ], events.slice(-20).reverse()));
  reload();
  return { element: card('Events', body), reload };
}

/** Renders meter `params[0]`. */
export async function render(container, { me, params: [id], signal, onLeave }) {
  const meter = await meterOrNotFound(container, id, signal);
  if (!meter) return;
  const gaps = await api(`/meters/${encodeURIComponent(id)}/gaps`, { signal });
  const live = livePower();
  const day = today(id, signal);
  const state = status(meter, gaps);
  const exportLink = `/api/v1/meters/${encodeURIComponent(id)}/export.csv${query({ from_ms: Date.now() - WEEK_MS, to_ms: Date.now() })}`;
  const events = recentEvents(id, signal);
  const grid = h('div', { class: 'grid' }, live.element, day.element, state.element, events.element);
  container.replaceChildren(
    heading(meter.name || meter.id),
    h('p', { class: 'sub' }, `Meter ${meter.id}`, meter.owner ? ` · ${meter.owner}` : ''),
    tabs(id, 'Live and status'),
    grid,
    h('p', {}, h('a', { href: exportLink, download: '' }, 'Download the last 7 days as CSV')));
  let panel = null;
  if (me.role !== 'consumer') {
    panel = commands.panel(meter, signal, onLeave);
    grid.append(panel.element);
  }
  let relay = null;
  onLeave(follow(`/meters/${encodeURIComponent(id)}/live`, 'reading', (reading) => {
    // A switch of the relay comes with an event: show it.
    if (relay !== null && reading.relay !== relay) events.reload();
    relay = reading.relay;
    live.show(reading);
    day.show(reading);
    state.show(reading);
    panel?.show(reading);
  }, live.setState));
}

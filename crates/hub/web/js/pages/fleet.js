// The operator's fleet overview: meters online and offline, disconnected supplies, total
// load live (import, export, net), and the load per feeder and per transformer, updated
// every second over server-sent events.

import { api, follow } from '../api.js';
import { card, empty, facts, fill, h, heading, table } from '../dom.js';
import * as format from '../format.js';

function groups(caption, byName) {
  const rows = Object.entries(byName);
  return rows.length === 0 ? empty('No meters registered.')
    : table(caption, [
      { label: 'Name', cell: ([name]) => name },
      { label: 'Meters', numeric: true, cell: ([, g]) => `${g.meters}` },
      { label: 'Reporting', numeric: true, cell: ([, g]) => `${g.reporting}` },
      { label: 'Load', numeric: true, cell: ([, g]) => format.power(g.p_w) },
    ], rows);
}

/** The summary's cards. */
function cards(summary) {
  return [
    card('Meters', facts([
      ['Registered', `${summary.meters}`],
      ['Online', h('span', { id: 'fleet-online' }, `${summary.online}`)],
      ['Offline', `${summary.offline}`],
      ['Supply switched off', `${summary.disconnected}`],
    ])),
    card('Load now', facts([
      ['Import', h('span', { id: 'fleet-import' }, format.power(summary.import_w))],
      ['Export', format.power(summary.export_w)],
      ['Net', format.power(summary.import_w - summary.export_w)],
      ['At', format.timeOfDay(summary.ts_ms)],
    ])),
    card('Feeders', groups('Load per feeder', summary.feeders)),
    card('Transformers', groups('Load per transformer', summary.transformers)),
  ];
}

/** Renders the fleet overview. */
export async function render(container, { signal, onLeave }) {
  const state = h('span', { class: 'badge', id: 'live-state' }, 'connecting');
  const grid = h('div', { class: 'grid' });
  container.replaceChildren(heading('Fleet'), h('p', { class: 'sub' }, 'Updated every second ', state), grid);
  await fill(grid, () => api('/fleet', { signal }), cards);
  onLeave(follow('/fleet/live', 'summary', (summary) => grid.replaceChildren(...cards(summary)), (text) => {
    state.textContent = text;
    state.className = `badge ${text === 'live' ? 'ok' : 'warn'}`;
  }));
}

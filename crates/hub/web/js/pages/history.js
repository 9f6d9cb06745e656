// A meter's history: an hour, day, week, month, year or a custom range; zoom by dragging, pan
// earlier and later; the hub picks the resolution for the range (raw readings, minutes,
// hours or days). Totals of import, export and net energy, the cost of each hour or day
// on the meter's tariff over the chart, and the range as CSV.

import { api, query } from '../api.js';
import * as chart from '../chart.js';
import { card, empty, facts, failure, h, heading, loading } from '../dom.js';
import * as format from '../format.js';
import { meterOrNotFound, tabs } from './meter.js';

const DAY_MS = 86_400_000;
const SPANS = [['Hour', DAY_MS / 24], ['Day', DAY_MS], ['Week', 7 * DAY_MS], ['Month', 30 * DAY_MS], ['Year', 365 * DAY_MS]];
const RESOLUTIONS = { raw: 'every reading', minute: 'per minute', hour: 'per hour', day: 'per day' };

/** `YYYY-MM-DD` of `ms`, local, for date inputs. */
function dateValue(ms) {
  const date = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** The range's cost in words: its total, or why there is none. */
function costText(cost) {
  if (cost === null) return 'No tariff on this meter';
  if (cost.error) return `Not available: ${cost.error.message}`;
  if (cost.points.length === 0) return 'No interval records in this range';
  const total = format.money(cost.total_minor, cost.currency_digits, cost.currency);
  const unpriced = cost.points.filter((p) => !format.isNumber(p.cost_minor)).length;
  const plan = `plan “${cost.plan}”, taxes included`;
  return unpriced === 0 ? `${total} (${plan})` : `${total} (${plan}; ${unpriced} unpriced: ${cost.note ?? 'no price'})`;
}

/** Renders the history of meter `params[0]`. */
export async function render(container, { params: [id], signal, onLeave }) {
  const meter = await meterOrNotFound(container, id, signal);
  if (!meter) return;
  const path = `/meters/${encodeURIComponent(id)}`;
  const range = { from: Date.now() - 7 * DAY_MS, to: Date.now() };
  let removeChart = () => {};
  onLeave(() => removeChart());

  const spanButtons = SPANS.map(([label, span]) => h('button', {
    type: 'button',
    class: 'secondary',
    'data-span': String(span),
    onclick: () => {
      range.to = Date.now();
      range.from = range.to - span;
      load();
    },
  }, label));
  const from = h('input', { id: 'range-from', type: 'date', required: true });
  const to = h('input', { id: 'range-to', type: 'date', required: true });
  const custom = h('form', {
    class: 'inline',
    onsubmit: (event) => {
      event.preventDefault();
      const start = new Date(`${from.value}T00:00`).getTime();
      const end = new Date(`${to.value}T00:00`).getTime() + DAY_MS;
      if (!(end > start)) return;
      range.from = start;
      range.to = end;
      load();
    },
  }, h('label', { for: 'range-from' }, 'From'), from, h('label', { for: 'range-to' }, 'To (inclusive)'), to,
  h('button', { type: 'submit', class: 'secondary' }, 'Show'));
  const shift = (fraction) => () => {
    const span = range.to - range.from;
    range.from += span * fraction;
    range.to += span * fraction;
    load();
  };
  const zoomOut = () => {
    const span = range.to - range.from;
    range.from -= span / 2;
    range.to += span / 2;
    load();
  };
  const summary = h('div');
  const plot = h('div', { class: 'chart-box' });
  const download = h('a', { download: '' }, 'Download this range as CSV');

  container.replaceChildren(
    heading(`History · ${meter.name || meter.id}`),
    tabs(id, 'History'),
    card('Range',
      h('div', { class: 'controls' },
        h('div', { class: 'actions', role: 'group', 'aria-label': 'Range' }, spanButtons),
        h('div', { class: 'actions', role: 'group', 'aria-label': 'Move' },
          h('button', { type: 'button', class: 'secondary', onclick: shift(-0.5) }, '◀ Earlier'),
          h('button', { type: 'button', class: 'secondary', onclick: zoomOut }, 'Zoom out'),
          h('button', { type: 'button', class: 'secondary', onclick: shift(0.5) }, 'Later ▶'))),
      custom),
    card('Power and energy', summary, plot, h('p', {}, download)));

  async function load() {
    range.from = Math.round(range.from);
    range.to = Math.round(range.to);
    from.value = dateValue(range.from);
    to.value = dateValue(range.to - 1);
    for (const button of spanButtons) {
      const pressed = Math.abs(range.to - range.from - Number(button.dataset.span)) < 1000 && Date.now() - range.to < 60_000;
      button.setAttribute('aria-pressed', String(pressed));
    }
    const within = query({ from_ms: range.from, to_ms: range.to });
    download.setAttribute('href', `/api/v1${path}/export.csv${within}`);
    removeChart();
    removeChart = () => {};
    summary.replaceChildren();
    plot.replaceChildren(loading());
    try {
      // The cost's buckets follow the range as the series' do (hours up to 90 days).
      const [series, cost] = await Promise.all([
        api(`${path}/series${within}`, { signal }),
        meter.tariff ? api(`${path}/cost/series${within}`, { signal }).catch((error) => {
          if (error.name === 'AbortError') throw error;
          return { error };
        }) : null,
      ]);
      const importWh = series.points.reduce((sum, p) => sum + p.import_wh, 0);
      const exportWh = series.points.reduce((sum, p) => sum + p.export_wh, 0);
      summary.replaceChildren(facts([
        ['From', format.dateTime(range.from)],
        ['To', format.dateTime(range.to)],
        ['Resolution', `${RESOLUTIONS[series.resolution] ?? series.resolution} (${series.points.length} ${series.points.length === 1 ? 'point' : 'points'})`],
        ['Imported', format.energy(importWh)],
        ['Exported', format.energy(exportWh)],
        ['Net', format.energy(importWh - exportWh)],
        ['Cost', h('span', { id: 'history-cost' }, costText(cost))],
      ]));
      if (series.points.length === 0) {
        plot.replaceChildren(empty('No readings in this range.'));
        return;
      }
      const costs = cost && !cost.error ? cost : null;
      removeChart = chart.draw(plot, series, range.from, range.to, (zoomFrom, zoomTo) => {
        range.from = zoomFrom;
        range.to = zoomTo;
        load();
      }, costs);
    } catch (error) {
      if (error.name !== 'AbortError') plot.replaceChildren(failure(error));
    }
  }
  await load();
}

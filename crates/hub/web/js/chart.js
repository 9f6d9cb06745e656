// The history chart: average power per point (import up, export down, net as a line) drawn
// by uPlot, over exactly the range asked for, and with a meter's cost series the cost of
// each hour or day as steps on a second axis in the currency. Dragging across it selects
// a range to zoom into; the page fetches that range again at the finer resolution it
// calls for.

import { h } from './dom.js';
import * as format from './format.js';

const BUCKET_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** uPlot's columns (seconds; kW) from a series answer of the API. */
function columns(series) {
  const bucketMs = BUCKET_MS[series.resolution];
  const x = [];
  const imports = [];
  const exports = [];
  const net = [];
  for (const point of series.points) {
    let importKw;
    let exportKw;
    if (bucketMs) {
      // Average power over the bucket from the energy it holds.
      importKw = point.import_wh / (bucketMs / 3_600_000) / 1000;
      exportKw = point.export_wh / (bucketMs / 3_600_000) / 1000;
    } else {
      importKw = Math.max(point.p_avg_w, 0) / 1000;
      exportKw = Math.max(-point.p_avg_w, 0) / 1000;
    }
    x.push(point.ts_ms / 1000);
    imports.push(importKw);
    exports.push(-exportKw);
    net.push(importKw - exportKw);
  }
  return [x, imports, exports, net];
}

/**
 * Each cost bucket as a step (in the currency's major unit) from its start, held to its
 * end; a gap (null) after a bucket no other bucket follows. Keys are x values, seconds.
 */
function costSteps(cost) {
  const scale = 10 ** cost.currency_digits;
  const steps = new Map();
  cost.points.forEach((point, index) => {
    const value = format.isNumber(point.cost_minor) ? point.cost_minor / scale : null;
    steps.set(point.ts_ms / 1000, value);
    if (cost.points[index + 1]?.ts_ms !== point.end_ms) {
      steps.set(point.end_ms / 1000, value);
      steps.set(point.end_ms / 1000 + 1, null);
    }
  });
  return steps;
}

/**
 * The power columns joined with the cost steps on one x axis; where a column has no value
 * it holds `undefined`, which uPlot draws across (null is a gap).
 */
function withCost([x, ...power], cost) {
  const steps = costSteps(cost);
  const xs = [...new Set([...x, ...steps.keys()])].sort((a, b) => a - b);
  const row = new Map(x.map((value, index) => [value, index]));
  const joined = power.map((column) => xs.map((value) => (row.has(value) ? column[row.get(value)] : undefined)));
  return [xs, ...joined, xs.map((value) => steps.get(value))];
}

const kw = (_, value) => (format.isNumber(value) ? format.number(value, 2, 'kW') : format.DASH);

/** Tick labels with as many decimals as the step between ticks needs (0.05 kW, not 0). */
const ticksKw = (_, ticks, _axis, _space, step) => {
  const digits = Math.min(3, Math.max(0, -Math.floor(Math.log10(step || 1))));
  return ticks.map((tick) => format.number(tick, digits));
};

/**
 * At least 0.1 kW tall and always showing zero, so a home drawing almost nothing is a
 * flat line near 0 rather than its noise magnified.
 */
const rangeKw = (_, min, max) => [Math.min(0, min ?? 0), Math.max(0.1, max ?? 0)];

/** The cost series and its axis on the right, in `cost`'s currency. */
function costSeries(cost) {
  const scale = 10 ** cost.currency_digits;
  const money = (value) => (format.isNumber(value)
    ? format.money(Math.round(value * scale), cost.currency_digits, cost.currency) : format.DASH);
  const per = cost.bucket_ms >= BUCKET_MS.day ? 'day' : 'hour';
  return {
    series: {
      label: `Cost per ${per}`,
      scale: 'cost',
      stroke: '#6d28d9',
      width: 2,
      paths: uPlot.paths.stepped({ align: 1 }),
      value: (_, value) => money(value),
    },
    axis: {
      scale: 'cost',
      side: 1,
      label: `${cost.currency} per ${per}`,
      size: 80,
      grid: { show: false },
      values: (_, ticks) => ticks.map(money),
    },
  };
}

/**
 * Draws `series` into `container` over `fromMs`..`toMs`, with `cost` (a cost series, or
 * null) as steps on a second axis; `onZoom(fromMs, toMs)` is called with a range selected
 * by dragging. Returns the function that removes the chart.
 */
export function draw(container, series, fromMs, toMs, onZoom, cost = null) {
  const priced = cost ? cost.points.filter((p) => format.isNumber(p.cost_minor)).length : 0;
  const figure = h('figure', {
    class: 'chart',
    id: 'history-chart',
    'data-points': String(series.points.length),
    'data-cost-points': String(priced),
  });
  container.replaceChildren(figure);
  const width = () => Math.max(280, figure.clientWidth);
  const overlay = cost && cost.points.length > 0 ? costSeries(cost) : null;
  const plot = new uPlot({
    width: width(),
    height: 320,
    scales: {
      x: { time: true, range: () => [fromMs / 1000, toMs / 1000] },
      y: { range: rangeKw },
      cost: { range: (_, min, max) => [Math.min(0, min ?? 0), Math.max(max ?? 0, 0) * 1.1 || 1] },
    },
    cursor: { drag: { x: true, y: false, setScale: false } },
    series: [
      { value: (_, seconds) => (seconds === null ? format.DASH : format.dateTime(seconds * 1000)) },
      { label: 'Import', stroke: '#b91c1c', fill: 'rgba(185, 28, 28, 0.15)', value: kw },
      { label: 'Export', stroke: '#15803d', fill: 'rgba(21, 128, 61, 0.15)', value: kw },
      { label: 'Net', stroke: '#1e3a8a', width: 2, value: kw },
      ...(overlay ? [overlay.series] : []),
    ],
    axes: [{}, { label: 'kW (+ import, − export)', size: 70, values: ticksKw }, ...(overlay ? [overlay.axis] : [])],
    hooks: {
      setSelect: [(u) => {
        if (u.select.width < 5) return;
        const from = u.posToVal(u.select.left, 'x') * 1000;
        const to = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
        u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
        onZoom(Math.round(from), Math.round(to));
      }],
    },
  }, overlay ? withCost(columns(series), cost) : columns(series), figure);
  const caption = overlay ? 'Average power per point; the cost of each bucket as steps on the right axis.'
    : 'Average power per point.';
  figure.append(h('figcaption', { class: 'note' }, `${caption} Drag across the chart to zoom in.`));
  const resize = () => plot.setSize({ width: width(), height: 320 });
  window.addEventListener('resize', resize);
  return () => {
    window.removeEventListener('resize', resize);
    plot.destroy();
  };
}

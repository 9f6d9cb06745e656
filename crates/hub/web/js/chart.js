// The history chart: average power per point (import up, export down, net as a line) drawn
// by uPlot, over exactly the range asked for. Dragging across it selects a range to zoom
// into; the page fetches that range again at the finer resolution it calls for.

import { h } from './dom.js';
import * as format from './format.js';

const BUCKET_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** uPlot's columns (seconds; kW) from a series answer of the API. */
export function columns(series) {
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

const kw = (_, value) => (format.isNumber(value) ? format.number(value, 2, 'kW') : format.DASH);

/**
 * Draws `series` into `container` over `fromMs`..`toMs`; `onZoom(fromMs, toMs)` is called
 * with a range selected by dragging. Returns the function that removes the chart.
 */
export function draw(container, series, fromMs, toMs, onZoom) {
  const figure = h('figure', { class: 'chart', id: 'history-chart', 'data-points': String(series.points.length) });
  container.replaceChildren(figure);
  const width = () => Math.max(280, figure.clientWidth);
  const plot = new uPlot({
    width: width(),
    height: 320,
    scales: { x: { time: true, range: () => [fromMs / 1000, toMs / 1000] } },
    cursor: { drag: { x: true, y: false, setScale: false } },
    series: [
      { value: (_, seconds) => (seconds === null ? format.DASH : format.dateTime(seconds * 1000)) },
      { label: 'Import', stroke: '#b91c1c', fill: 'rgba(185, 28, 28, 0.15)', value: kw },
      { label: 'Export', stroke: '#15803d', fill: 'rgba(21, 128, 61, 0.15)', value: kw },
      { label: 'Net', stroke: '#1e3a8a', width: 2, value: kw },
    ],
    axes: [{}, { label: 'kW (+ import, − export)', size: 70 }],
    hooks: {
      setSelect: [(u) => {
        if (u.select.width < 5) return;
        const from = u.posToVal(u.select.left, 'x') * 1000;
        const to = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
        u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
        onZoom(Math.round(from), Math.round(to));
      }],
    },
  }, columns(series), figure);
  figure.append(h('figcaption', { class: 'note' }, 'Average power per point. Drag across the chart to zoom in.'));
  const resize = () => plot.setSize({ width: width(), height: 320 });
  window.addEventListener('resize', resize);
  return () => {
    window.removeEventListener('resize', resize);
    plot.destroy();
  };
}

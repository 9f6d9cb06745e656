// One bill: its lines, subtotals and total, the energy billed from the registers beside
// what the interval data holds, the estimated intervals and every finding, with a link to
// the printable version.

import { api } from '../api.js';
import { card, empty, facts, h, heading, table } from '../dom.js';
import * as format from '../format.js';
import { meterOrNotFound } from './meter.js';

/** A finding's detail with its unit: instants as local times, mWh as kWh, W as power. */
function detail(key, value) {
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value)) return [key, format.instant(value)];
  if (key.endsWith('_mwh')) return [key.slice(0, -4), format.kwhFromMwh(value)];
  if (key.endsWith('_w')) return [key.slice(0, -2), format.power(value)];
  return [key, typeof value === 'number' ? format.number(value, 0) : String(value)];
}

/** A finding as a sentence: its kind and its details. */
function finding(item) {
  const { kind, ...details } = item;
  const parts = Object.entries(details).map(([key, value]) => {
    const [name, shown] = detail(key, value);
    return `${format.words(name).toLowerCase()} ${shown}`;
  });
  return parts.length ? `${format.words(kind)}: ${parts.join(', ')}` : format.words(kind);
}

/** A line's unit price: per kWh in the currency, or per its own unit. */
function unitPrice(line, currency) {
  if (line.unit === 'kWh') return format.pricePerKwh(line.unit_price, currency);
  const value = format.number(Number(line.unit_price), 4, currency);
  return line.unit ? `${value}/${line.unit}` : value;
}

/** Renders the bill `params[1]` of meter `params[0]`. */
export async function render(container, { params: [id, billId], signal }) {
  const meter = await meterOrNotFound(container, id, signal);
  if (!meter) return;
  const path = `/meters/${encodeURIComponent(id)}/bills/${encodeURIComponent(billId)}`;
  let bill;
  try {
    bill = await api(path, { signal });
  } catch (error) {
    if (error.status !== 404) throw error;
    container.replaceChildren(heading('Bill not found'), empty('This meter has no such bill.'),
      h('p', {}, h('a', { href: '/portal/bills' }, 'Your bills')));
    return;
  }
  const cash = (minor) => format.money(minor, bill.currency_digits, bill.currency);
  const register = (name, energy) => [
    [`${name} (registers)`, energy.register_mwh === null ? 'not read' : format.kwhFromMwh(energy.register_mwh)],
    [`${name} (intervals)`, format.kwhFromMwh(energy.intervals_mwh)],
    [`${name} billed`, format.kwhFromMwh(energy.billed_mwh)],
  ];
  container.replaceChildren(
    heading(`Bill for ${meter.name || meter.id}`),
    h('p', { class: 'sub' }, `${format.dateIn(bill.period.start, bill.time_zone)} to ${format.dateIn(bill.period.end, bill.time_zone, true)} · plan “${bill.plan}”`),
    h('div', { class: 'grid' },
      card('Total', h('p', { class: 'big', id: 'bill-total' }, cash(bill.total_minor)),
        facts([
          ['Before taxes', cash(bill.subtotals.before_taxes_minor)],
          ['Taxes', cash(bill.subtotals.taxes_minor)],
        ]),
        h('p', {}, h('a', { id: 'bill-print', href: `/api/v1${path}/html`, target: '_blank', rel: 'noopener' }, 'Printable bill'))),
      card('Energy', facts([
        ...register('Import', bill.energy.import),
        ...register('Export', bill.energy.export),
        ['Estimated intervals', format.number(bill.estimated.intervals, 0)],
      ]))),
    card('Lines', bill.lines.length === 0 ? empty('Nothing was charged in this period.')
      : table('Bill lines', [
        { label: 'Description', cell: (l) => l.description },
        { label: 'Quantity', numeric: true, cell: (l) => `${format.number(Number(l.quantity), 3)} ${l.unit}` },
        { label: 'Unit price', numeric: true, cell: (l) => unitPrice(l, bill.currency) },
        { label: 'Amount', numeric: true, cell: (l) => cash(l.amount_minor) },
      ], bill.lines)),
    card('Checks on the data', bill.findings.length === 0 ? empty('The interval data passed every check.')
      : h('ul', { id: 'bill-findings' }, bill.findings.map((item) => h('li', {}, finding(item))))));
}

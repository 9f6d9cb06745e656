// Bills and costs for a consumer: for each of their meters, what today and this month cost
// so far, the month's forecast, the price now and the cheapest hours ahead, and their
// bills with a link to each and to its printable version.

import { api } from '../api.js';
import { card, empty, facts, fill, h, heading, table } from '../dom.js';
import * as format from '../format.js';

/** The cost cards of one meter. */
function costCards(cost) {
  const cash = (minor) => format.money(minor, cost.currency_digits, cost.currency);
  const stretch = (title, id, part) => card(title, facts([
    ['Imported', h('span', { id: `${id}-kwh` }, format.number(part.import_kwh, 2, 'kWh'))],
    ['Exported', format.number(part.export_kwh, 2, 'kWh')],
    ['Cost', h('span', { id: `${id}-cost` }, cash(part.cost_minor))],
  ]));
  const prices = cost.prices;
  // One price over the whole look-ahead: nothing changes, no hour is cheaper.
  const steady = prices && prices.ahead.length === 1;
  const priceCard = prices
    ? card('Price now', facts([
      ['Energy', h('span', { id: 'price-now' }, format.pricePerKwh(prices.current?.price_per_kwh, cost.currency))],
      ['Until', steady ? 'No change in the next 24 h' : format.clock(prices.current?.end)],
      ['Cheapest 3 hours', steady ? 'Any time: one price'
        : prices.cheapest_hours.length === 0 ? format.DASH
          : prices.cheapest_hours.map((p) => `${format.clock(p.start)}–${format.clock(p.end)}`).join(', ')],
    ]), h('p', { class: 'note' }, 'Energy price before levies and taxes.'))
    : card('Price now', empty(cost.prices_note ?? 'No prices by time for this plan.'));
  return [
    h('div', { class: 'grid' },
      stretch('Today so far', 'today', cost.today),
      stretch('This month so far', 'month', cost.period),
      card('Forecast for the month', facts([
        ['Expected', h('span', { id: 'forecast-total' }, cash(cost.forecast.total_minor))],
        ['A day costs', cash(cost.forecast.daily_cost_minor)],
        ['Days left', format.number(cost.forecast.days_left, 1, 'days')],
      ]), h('p', { class: 'note' }, `Averaged over ${cost.forecast.basis}.`)),
      priceCard),
    h('p', { class: 'note' }, `Plan “${cost.plan}”, taxes included. ${cost.based_on}.`),
  ];
}

/** The bills table of one meter. */
function billTable(meter, bills) {
  if (bills.length === 0) return empty('No bills yet: the first one comes after the month is billed.');
  const base = `/portal/bills/${encodeURIComponent(meter.id)}`;
  return table(`Bills of ${meter.name || meter.id}`, [
    { label: 'Month', cell: (b) => h('a', { href: `${base}/${b.id}` }, format.month(b.period)) },
    { label: 'Plan', cell: (b) => b.plan },
    { label: 'Total', numeric: true, cell: (b) => format.money(b.total_minor, b.currency_digits, b.currency) },
    { label: 'Status', cell: (b) => (b.closed ? 'Final' : 'Being billed') },
    { label: 'Print', cell: (b) => h('a', { href: `/api/v1/meters/${encodeURIComponent(meter.id)}/bills/${b.id}/html`, target: '_blank', rel: 'noopener' }, 'Printable') },
  ], bills);
}

/** Renders the bills page. */
export async function render(container, { signal }) {
  const meters = await api('/meters', { signal });
  container.replaceChildren(heading('Bills and costs'));
  if (meters.length === 0) {
    container.append(empty('No meter is linked to your account yet, so there are no bills.'));
    return;
  }
  const loads = [];
  for (const meter of meters) {
    const id = encodeURIComponent(meter.id);
    const costs = h('div', {});
    const bills = h('div', {});
    container.append(h('section', { class: 'meter-billing', 'data-meter': meter.id },
      h('h2', {}, meter.name || meter.id), costs, card('Bills', bills)));
    if (!meter.tariff) {
      costs.replaceChildren(empty('This meter has no tariff yet, so costs cannot be worked out.'));
    } else {
      loads.push(fill(costs, () => api(`/meters/${id}/cost`, { signal }), costCards));
    }
    loads.push(fill(bills, () => api(`/meters/${id}/bills`, { signal }), (list) => billTable(meter, list)));
  }
  await Promise.all(loads);
}

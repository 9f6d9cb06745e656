// Insights for a consumer: for each of their meters, what the hub found in the last 30 days
// (baseload, profiles, peaks, comparisons, shift potential, anomalies, CO2, solar,
// appliances), each with what it rests on or why it is not available.

import { api } from '../api.js';
import { card, empty, facts, fill, h, heading } from '../dom.js';
import * as format from '../format.js';

const TITLES = {
  baseload: 'Always-on use (baseload)',
  daily_profile: 'Your day',
  weekly_profile: 'Your week',
  peak_hours: 'Peak hours',
  top_days: 'Days with the most use',
  monthly_totals: 'Months',
  previous_period: 'Compared with the 30 days before',
  peers: 'Compared with similar homes',
  shift_potential: 'Moving use to cheaper hours',
  anomalies: 'Unusual hours this week',
  carbon: 'CO₂',
  solar: 'Solar',
  appliances: 'Appliances',
};

/** The headline figures of an insight. */
function figures(kind, value) {
  switch (kind) {
    case 'baseload': return [['Always on', format.power(value.baseload_w)], ['A year', format.number(value.yearly_kwh, 0, 'kWh')]];
    case 'peak_hours': return value.hours.map((p) => [`${String(p.hour).padStart(2, '0')}:00`, format.power(p.avg_w)]);
    case 'top_days': return value.days.map((d) => [d.date, format.number(d.kwh, 1, 'kWh')]);
    case 'monthly_totals': return value.months.map((m) => [`${m.year}-${String(m.month).padStart(2, '0')}`, format.number(m.kwh, 1, 'kWh')]);
    case 'previous_period': return [
      ['These 30 days', format.number(value.current.kwh, 1, 'kWh')],
      ['The 30 before', format.number(value.previous.kwh, 1, 'kWh')],
      ['Change', format.number(value.change_pct, 0, '%')]];
    case 'peers': return [['You', format.number(value.own_kwh, 1, 'kWh')], ['Median of peers', format.number(value.median_kwh, 1, 'kWh')], ['Peers', format.number(value.peers, 0)]];
    case 'shift_potential': return [['Movable', format.number(value.shiftable_kwh_per_month, 1, 'kWh a month')]];
    case 'anomalies': return [['Unusual hours', format.number(value.hours?.length, 0)]];
    case 'appliances': return [['Switch-on events', format.number(value.events.length, 0)], ['Kinds of load', format.number(value.clusters.length, 0)]];
    case 'carbon': return [['Imported', format.number(value.import_kwh, 1, 'kWh')], ['CO₂', format.number(value.import_kg, 1, 'kg')]];
    default: return [];
  }
}

function title(insight) {
  return TITLES[insight.kind] ?? format.words(insight.kind);
}

/** The insights that could not be worked out, each with why. */
function missingCard(insights) {
  return card('Not available yet', h('ul', { class: 'missing' }, insights.map((insight) =>
    h('li', { 'data-kind': insight.kind }, h('strong', {}, title(insight)), `: ${insight.unavailable ?? 'no reason given'}.`))));
}

/** One insight's card: its figures and what they rest on. */
function insightCard(insight) {
  const basis = insight.value.basis ?? {};
  const rows = figures(insight.kind, insight.value);
  return card(title(insight),
    rows.length ? facts(rows) : null,
    insight.value.sentence ? h('p', {}, insight.value.sentence) : null,
    h('p', { class: 'note basis', 'data-kind': insight.kind },
      `Based on ${format.number(basis.used, 0)} records over ${format.number(basis.covered_days, 1, 'days')}: ${basis.method ?? format.DASH}`),
    (basis.notes ?? []).map((note) => h('p', { class: 'note' }, note)));
}

/** Renders the insights page. */
export async function render(container, { signal }) {
  const meters = await api('/meters', { signal });
  container.replaceChildren(heading('Insights'));
  if (meters.length === 0) {
    container.append(empty('No meter is linked to your account yet, so there is nothing to look at.'));
    return;
  }
  const loads = meters.map((meter) => {
    const body = h('div', {});
    container.append(h('section', {}, h('h2', {}, meter.name || meter.id), body));
    if (!meter.tariff) {
      body.replaceChildren(empty('This meter has no tariff yet; insights need one for prices and peers.'));
      return Promise.resolve();
    }
    return fill(body, () => api(`/meters/${encodeURIComponent(meter.id)}/insights`, { signal }),
      (result) => {
        const found = result.insights.filter((insight) => insight.value);
        const missing = result.insights.filter((insight) => !insight.value);
        return [
          found.length ? h('div', { class: 'grid' }, found.map(insightCard)) : empty('Nothing to show yet: the meter has not sent enough 15-minute records.'),
          missing.length ? missingCard(missing) : null,
        ].filter(Boolean);
      });
  });
  await Promise.all(loads);
}

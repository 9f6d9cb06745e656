// Alerts: the user's alerts (acknowledge, resolve), their alert rules with thresholds in
// their units, and where alerts are sent besides this page. The events page reuses the
// alerts table for operators' alarms.

import { api, query } from '../api.js';
import { card, empty, fill, h, heading, table } from '../dom.js';
import * as format from '../format.js';

/** Each condition kind: its name for people and its fields with their units. */
const CONDITIONS = {
  power_above: { label: 'Power above a threshold', fields: [['threshold_w', 'Threshold', 'W'], ['for_s', 'For at least', 's']] },
  daily_energy_above: { label: 'Energy today above a budget', fields: [['budget_wh', 'Budget per day', 'Wh']] },
  voltage_out_of_range: { label: 'Voltage out of range', fields: [['min_v', 'Lowest', 'V'], ['max_v', 'Highest', 'V'], ['for_s', 'For at least', 's']] },
  offline: { label: 'Meter silent', fields: [['for_s', 'Silent for at least', 's']] },
  tamper: { label: 'Tamper (cover, magnet, bypass)', fields: [] },
  outage: { label: 'Supply outage', fields: [] },
  bill_forecast_above: { label: 'Bill forecast above a budget', fields: [['budget', 'Budget per period', 'in your tariff\'s currency']] },
  price_above: { label: 'Price above a threshold', fields: [['threshold_per_kwh', 'Threshold', 'per kWh']] },
};

const CHANNELS = [['webhook', 'Webhook'], ['mqtt', 'MQTT'], ['email', 'Email']];

/** A rule's condition in words, with units. */
function describe(condition) {
  const held = condition.for_s ? ` for ${condition.for_s} s` : '';
  switch (condition.type) {
    case 'power_above': return `Power above ${format.power(condition.threshold_w)}${held}`;
    case 'daily_energy_above': return `Energy today above ${format.energy(condition.budget_wh)} (${condition.timezone})`;
    case 'voltage_out_of_range': return `Voltage outside ${condition.min_v}–${condition.max_v} V${held}`;
    case 'offline': return `Silent for ${condition.for_s} s`;
    case 'bill_forecast_above': return `Bill forecast above ${condition.budget}`;
    case 'price_above': return `Price above ${condition.threshold_per_kwh} per kWh`;
    default: return CONDITIONS[condition.type]?.label ?? format.words(condition.type);
  }
}

/**
 * The table of `alerts` with acknowledge and resolve buttons; `changed()` runs after
 * either, `message` shows the outcome.
 */
export function alertsTable(alerts, message, changed) {
  const act = (alert, verb) => async () => {
    try {
      await api(`/alerts/${alert.id}/${verb}`, { method: 'POST' });
      message.textContent = `Alert ${alert.id} ${verb === 'ack' ? 'acknowledged' : 'resolved'}.`;
    } catch (error) {
      message.textContent = `Not changed: ${error.message}`;
    }
    changed();
  };
  return table('Alerts, newest first', [
    { label: 'Opened', cell: (a) => format.dateTime(a.opened_ms) },
    { label: 'Meter', cell: (a) => h('a', { href: `/portal/meters/${encodeURIComponent(a.meter)}` }, a.meter) },
    { label: 'Condition', cell: (a) => format.words(a.condition) },
    { label: 'What happened', cell: (a) => a.message },
    { label: 'State', cell: (a) => h('span', { class: `status alert-${a.state}` }, format.words(a.state)) },
    {
      label: 'Actions',
      cell: (a) => h('div', { class: 'actions' },
        a.state === 'open' && h('button', { type: 'button', class: 'secondary', 'data-ack': a.id, onclick: act(a, 'ack') }, 'Acknowledge'),
        a.state !== 'resolved' && h('button', { type: 'button', class: 'secondary', 'data-resolve': a.id, onclick: act(a, 'resolve') }, 'Resolve')),
    },
  ], alerts);
}

/** The notification settings form. */
function settingsForm(signal) {
  const message = h('p', { class: 'form-message', role: 'status', id: 'settings-message' });
  const form = h('form', {
    id: 'notification-settings',
    onsubmit: async (event) => {
      event.preventDefault();
      const value = (name) => form.elements[name].value.trim() || null;
      try {
        await api('/notification-settings', { method: 'PUT', body: { webhook_url: value('webhook_url'), email: value('email') } });
        message.textContent = 'Saved.';
      } catch (error) {
        message.textContent = `Not saved: ${error.message}`;
      }
    },
  },
  h('label', { for: 'settings-webhook' }, 'Webhook URL (receives a JSON POST per alert)'),
  h('input', { id: 'settings-webhook', name: 'webhook_url', type: 'url', placeholder: 'https://example.org/hook' }),
  h('label', { for: 'settings-email' }, 'Email address'),
  h('input', { id: 'settings-email', name: 'email', type: 'email', placeholder: 'you@example.org' }),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save settings')),
  message);
  api('/notification-settings', { signal }).then((settings) => {
    form.elements.webhook_url.value = settings.webhook_url ?? '';
    form.elements.email.value = settings.email ?? '';
  }, () => {});
  return form;
}

/** The form that adds a rule; `added()` runs after it is stored. */
function ruleForm(added) {
  const message = h('p', { class: 'form-message', role: 'status', id: 'rule-message' });
  const fields = h('div', { id: 'rule-fields' });
  const kind = h('select', { id: 'rule-condition', name: 'condition' },
    Object.entries(CONDITIONS).map(([value, { label }]) => h('option', { value }, label)));
  const drawFields = () => fields.replaceChildren(...CONDITIONS[kind.value].fields.flatMap(([name, label, unit]) => [
    h('label', { for: `rule-${name}` }, `${label} (${unit})`),
    h('input', { id: `rule-${name}`, name, type: 'number', step: 'any', min: '0', required: name !== 'for_s', value: name === 'for_s' ? '0' : null }),
  ]));
  kind.addEventListener('change', drawFields);
  drawFields();
  const form = h('form', {
    id: 'rule-form',
    onsubmit: async (event) => {
      event.preventDefault();
      const condition = { type: kind.value };
      for (const [name] of CONDITIONS[kind.value].fields) condition[name] = Number(form.elements[name].value);
      if (kind.value === 'daily_energy_above') condition.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      const meters = form.elements.meters.value.split(',').map((m) => m.trim()).filter(Boolean);
      const channels = CHANNELS.map(([value]) => value).filter((value) => form.elements[`channel-${value}`].checked);
      try {
        const rule = await api('/alert-rules', {
          method: 'POST',
          body: { name: form.elements.name.value.trim(), condition, meters, channels, cooldown_s: Number(form.elements.cooldown.value) },
        });
        message.textContent = `Rule “${rule.name}” added.`;
        added();
      } catch (error) {
        message.textContent = `Not added: ${error.message}`;
      }
    },
  },
  h('label', { for: 'rule-name' }, 'Name'),
  h('input', { id: 'rule-name', name: 'name', required: true, maxlength: '200', placeholder: 'Kettle and oven at once' }),
  h('label', { for: 'rule-condition' }, 'Condition'),
  kind,
  fields,
  h('label', { for: 'rule-meters' }, 'Meters (ids, comma-separated; empty: all of yours)'),
  h('input', { id: 'rule-meters', name: 'meters' }),
  h('fieldset', { class: 'switch' }, h('legend', {}, 'Also send to'),
    CHANNELS.map(([value, label]) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: `channel-${value}`, id: `rule-channel-${value}` }), ` ${label}`))),
  h('label', { for: 'rule-cooldown' }, 'Quiet after an alert clears (s)'),
  h('input', { id: 'rule-cooldown', name: 'cooldown', type: 'number', min: '0', step: '1', value: '300' }),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add rule')),
  message);
  return form;
}

/** Renders the alerts page. */
export async function render(container, { signal }) {
  const message = h('p', { class: 'form-message', role: 'status', id: 'alert-message' });
  const alertList = h('div', { id: 'alert-list' });
  const ruleList = h('div', { id: 'rule-list' });
  const loadAlerts = () => fill(alertList, () => api(`/alerts${query({ limit: 100 })}`, { signal }), (alerts) =>
    alerts.length === 0 ? empty('No alerts. Add a rule below to be told when something happens.')
      : alertsTable(alerts, message, loadAlerts));
  const loadRules = () => fill(ruleList, () => api('/alert-rules', { signal }), (rules) =>
    rules.length === 0 ? empty('No alert rules yet.')
      : table('Your alert rules', [
        { label: 'Name', cell: (r) => r.name },
        { label: 'Condition', cell: (r) => describe(r.condition) },
        { label: 'Meters', cell: (r) => (r.meters.length ? r.meters.join(', ') : 'All of yours') },
        { label: 'Sent to', cell: (r) => ['in the portal', ...r.channels].join(', ') },
        { label: 'Quiet after', cell: (r) => `${r.cooldown_s} s`, numeric: true },
        {
          label: 'Actions',
          cell: (r) => h('button', {
            type: 'button',
            class: 'secondary',
            onclick: async () => {
              await api(`/alert-rules/${r.id}`, { method: 'DELETE' });
              loadRules();
            },
          }, 'Delete'),
        },
      ], rules));
  container.replaceChildren(heading('Alerts'),
    h('p', { class: 'sub' }, 'An alert opens once when a rule’s condition starts, and resolves by itself when it clears. ',
      h('button', { type: 'button', class: 'secondary', onclick: loadAlerts }, 'Refresh')),
    card('Your alerts', message, alertList),
    h('div', { class: 'grid' },
      card('Alert rules', ruleList, h('details', { id: 'add-rule' }, h('summary', {}, 'Add a rule'), ruleForm(loadRules))),
      card('Where alerts are sent', settingsForm(signal))));
  await Promise.all([loadAlerts(), loadRules()]);
}

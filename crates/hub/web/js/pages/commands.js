// The operator's commands for one meter: disconnect and reconnect (confirmed, with a
// reason for the audit log), a load limit, a time-of-use schedule, and the recent commands
// with their status, followed until each is final.

import { api, query } from '../api.js';
import { card, confirmWithReason, empty, fill, h, table } from '../dom.js';
import * as format from '../format.js';

const FINAL = new Set(['done', 'rejected', 'failed', 'timed_out']);

/** What a command asked, for people. */
function describe(action) {
  switch (action.type) {
    case 'disconnect':
    case 'reconnect':
    case 'arm_reconnect':
      return `${format.words(action.type)}: ${action.reason}`;
    case 'load_limit':
      return action.limit_w === null ? 'Clear load limit' : `Load limit ${format.power(action.limit_w)}`;
    case 'tariff_schedule':
      return `Tariff schedule (${action.switches.length} switches, ${action.timezone})`;
    default:
      return format.words(action.type);
  }
}

/** One switch row of the tariff schedule form. */
function switchRow(index) {
  const id = (name) => `switch-${index}-${name}`;
  return h('fieldset', { class: 'switch' },
    h('legend', {}, `Switch ${index + 1}`),
    h('label', { for: id('days') }, 'Days'),
    h('select', { id: id('days'), name: 'days' },
      h('option', { value: 'all' }, 'Every day'),
      h('option', { value: 'weekdays' }, 'Weekdays'),
      h('option', { value: 'weekends' }, 'Weekends and holidays')),
    h('label', { for: id('start') }, 'From (local time)'),
    h('input', { id: id('start'), name: 'start', type: 'time', required: true, value: index === 0 ? '07:00' : '23:00' }),
    h('label', { for: id('tariff') }, 'Tariff register (1 = T1)'),
    h('input', { id: id('tariff'), name: 'tariff', type: 'number', min: '1', max: '8', required: true, value: index === 0 ? '1' : '2' }));
}

/** The panel for `meter`; `show(reading)` updates the relay state it shows. */
export function panel(meter, signal, onLeave) {
  const id = encodeURIComponent(meter.id);
  const message = h('p', { class: 'form-message', role: 'status', id: 'command-message' });
  const relay = h('span', { id: 'command-relay' }, format.DASH);
  const list = h('div', { id: 'command-list' });
  let poll = null;
  onLeave(() => clearTimeout(poll));

  const refresh = () => fill(list, () => api(`/meters/${id}/commands${query({ limit: 10 })}`, { signal }), (commands) => {
    clearTimeout(poll);
    if (commands.some((c) => !FINAL.has(c.status))) poll = setTimeout(refresh, 1500);
    return commands.length === 0 ? empty('No commands sent to this meter yet.')
      : table('Recent commands', [
        { label: 'Sent', cell: (c) => format.dateTime(c.created_ms) },
        { label: 'Command', cell: (c) => describe(c.action) },
        { label: 'By', cell: (c) => c.created_by },
        { label: 'Status', cell: (c) => h('span', { class: `status ${c.status}` }, format.words(c.status)) },
        { label: 'Meter says', cell: (c) => c.detail ?? '' },
      ], commands);
  });

  const send = async (action) => {
    message.textContent = 'Sending…';
    try {
      const command = await api(`/meters/${id}/commands`, { method: 'POST', body: { action } });
      message.textContent = `Command ${command.id} sent: ${describe(action)}.`;
    } catch (error) {
      message.textContent = `Not sent: ${error.message}`;
    }
    refresh();
  };

  const switching = (type, verb, text) => async () => {
    const reason = await confirmWithReason({ title: `${verb} meter ${meter.id}?`, message: text, confirm: verb });
    if (reason) send({ type, reason });
  };

  const limit = h('form', {
    class: 'inline',
    onsubmit: (event) => {
      event.preventDefault();
      const form = event.target;
      const minutes = Number(form.elements.minutes.value);
      send({
        type: 'load_limit',
        limit_w: Number(form.elements.limit.value),
        duration_s: minutes > 0 ? Math.round(minutes * 60) : undefined,
      });
    },
  },
  h('label', { for: 'limit-w' }, 'Load limit (W)'),
  h('input', { id: 'limit-w', name: 'limit', type: 'number', min: '1', step: '1', required: true }),
  h('label', { for: 'limit-minutes' }, 'For (minutes, empty: until changed)'),
  h('input', { id: 'limit-minutes', name: 'minutes', type: 'number', min: '1', step: '1' }),
  h('button', { type: 'submit' }, 'Set limit'),
  h('button', { type: 'button', class: 'secondary', onclick: () => send({ type: 'load_limit', limit_w: null }) }, 'Clear limit'));

  const switches = h('div', {}, switchRow(0), switchRow(1));
  const schedule = h('form', {
    onsubmit: (event) => {
      event.preventDefault();
      send({
        type: 'tariff_schedule',
        timezone: event.target.elements.timezone.value.trim(),
        switches: [...switches.querySelectorAll('fieldset')].map((row) => ({
          days: row.querySelector('[name=days]').value,
          start: row.querySelector('[name=start]').value,
          tariff: Number(row.querySelector('[name=tariff]').value) - 1,
        })),
      });
    },
  },
  h('label', { for: 'schedule-timezone' }, 'Time zone'),
  h('input', { id: 'schedule-timezone', name: 'timezone', required: true, value: Intl.DateTimeFormat().resolvedOptions().timeZone }),
  switches,
  h('div', { class: 'actions' },
    h('button', { type: 'button', class: 'secondary', onclick: () => switches.append(switchRow(switches.children.length)) }, 'Add a switch'),
    h('button', { type: 'submit' }, 'Send schedule')));

  const element = card('Commands',
    h('p', {}, 'Supply switch: ', relay),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'danger', id: 'disconnect', onclick: switching('disconnect', 'Disconnect', 'This switches the supply off at the meter.') }, 'Disconnect…'),
      h('button', { type: 'button', id: 'reconnect', onclick: switching('reconnect', 'Reconnect', 'This switches the supply back on at the meter.') }, 'Reconnect…')),
    message,
    h('details', { id: 'load-limit' }, h('summary', {}, 'Load limit'), limit),
    h('details', { id: 'tariff-schedule' }, h('summary', {}, 'Tariff schedule'), schedule),
    h('h3', {}, 'Recent commands'),
    list);
  refresh();
  return {
    element,
    show(reading) {
      relay.textContent = format.words(reading.relay);
    },
  };
}

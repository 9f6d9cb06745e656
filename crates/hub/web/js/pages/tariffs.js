// Tariff management (operators and admins): the plans with their versions and TOML, a form
// that adds a plan or replaces one from pasted or uploaded TOML (the hub checks it and
// names the line of a mistake; a replacement may not change a price already in force),
// and the import of a market's prices (JSON or CSV) that dynamic plans read.

import { api, query } from '../api.js';
import { card, empty, fill, h, heading, table } from '../dom.js';
import * as format from '../format.js';

/** Why the hub refused a plan, in words, with its own message (line and key). */
function refusal(error) {
  const lead = {
    invalid_tariff: 'The plan is not valid',
    retroactive_tariff_change: 'Refused: this would change prices already in force (only versions starting after today may change)',
    conflict: 'A plan of that name exists already; choose it under “Plan” to replace it',
  }[error.code] ?? 'Not saved';
  return [h('strong', {}, `${lead}.`), h('pre', { class: 'message' }, error.message)];
}

/** A file input that copies the chosen text file into `target`. */
function upload(id, label, accept, target) {
  const input = h('input', {
    id,
    type: 'file',
    accept,
    onchange: async () => {
      const file = input.files?.[0];
      if (file) target.value = await file.text();
    },
  });
  return [h('label', { for: id }, label), input];
}

/** The plans table; `onView(plan)` shows a plan's TOML, `onEdit(plan)` loads it into the form. */
function planTable(plans, onView, onEdit) {
  if (plans.length === 0) return empty('No tariff plans yet: add the first one below.');
  return table('Tariff plans', [
    { label: 'Plan', cell: (p) => h('strong', {}, p.name) },
    { label: 'Currency', cell: (p) => p.currency },
    { label: 'Time zone', cell: (p) => p.time_zone },
    { label: 'Versions from', cell: (p) => (p.versions_from.length ? p.versions_from.join(', ') : format.DASH) },
    { label: 'Price series', cell: (p) => (p.series.length ? p.series.join(', ') : 'None') },
    { label: 'Updated', cell: (p) => format.dateTime(p.updated_ms) },
    {
      label: 'TOML',
      cell: (p) => h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', 'data-view': p.name, onclick: () => onView(p) }, 'View'),
        h('button', { type: 'button', class: 'secondary', onclick: () => onEdit(p) }, 'Replace…')),
    },
  ], plans);
}

/** The form that adds or replaces a plan; `saved()` is called after a save. */
function planForm(saved) {
  const message = h('div', { class: 'form-message', id: 'tariff-message', role: 'status' });
  const target = h('select', { id: 'tariff-target', name: 'target' }, h('option', { value: '' }, 'A new plan'));
  const toml = h('textarea', { id: 'tariff-toml', name: 'toml', rows: '14', required: true, spellcheck: 'false', class: 'code' });
  const form = h('form', {
    id: 'tariff-form',
    onsubmit: async (event) => {
      event.preventDefault();
      const name = target.value;
      message.replaceChildren();
      try {
        const plan = name
          ? await api(`/tariffs/${encodeURIComponent(name)}`, { method: 'PUT', body: { toml: toml.value } })
          : await api('/tariffs', { method: 'POST', body: { toml: toml.value } });
        message.replaceChildren(`${name ? 'Replaced' : 'Added'} plan “${plan.name}” (${plan.versions_from.length} ${plan.versions_from.length === 1 ? 'version' : 'versions'}).`);
        form.reset();
        saved();
      } catch (error) {
        message.replaceChildren(h('div', { class: 'form-error', role: 'alert' }, refusal(error)));
        message.scrollIntoView({ block: 'nearest' });
      }
    },
  },
  h('label', { for: 'tariff-target' }, 'Plan'),
  target,
  h('label', { for: 'tariff-toml' }, 'TOML (docs/CONFIG.md, “Tariffs”)'),
  toml,
  upload('tariff-file', 'Or load a .toml file', '.toml,text/plain', toml),
  message,
  h('button', { type: 'submit' }, 'Save plan'));
  return {
    element: form,
    /** Offers the stored plans as replacement targets. */
    names(plans) {
      const chosen = target.value;
      target.replaceChildren(h('option', { value: '' }, 'A new plan'),
        ...plans.map((p) => h('option', { value: p.name }, `Replace “${p.name}”`)));
      target.value = plans.some((p) => p.name === chosen) ? chosen : '';
    },
    /** Loads `plan` into the form to be replaced. */
    edit(plan) {
      target.value = plan.name;
      toml.value = plan.toml;
      message.replaceChildren();
      toml.focus();
    },
  };
}

/** The form that imports a market's prices. */
function priceForm() {
  const message = h('div', { class: 'form-message', id: 'prices-message', role: 'status' });
  const body = h('textarea', { id: 'prices-body', name: 'body', rows: '8', required: true, spellcheck: 'false', class: 'code' });
  const zone = h('input', { id: 'prices-zone', name: 'time_zone', placeholder: 'Europe/Amsterdam' });
  const kind = h('select', { id: 'prices-format', name: 'format' },
    h('option', { value: 'json' }, 'JSON: [{"start","end","price_per_kwh"}]'),
    h('option', { value: 'csv' }, 'CSV: start,end,price_per_kwh'),
    h('option', { value: 'entsoe_csv' }, 'ENTSO-E day-ahead CSV'));
  const form = h('form', {
    id: 'prices-form',
    onsubmit: async (event) => {
      event.preventDefault();
      const market = event.target.elements.market.value.trim();
      message.replaceChildren();
      try {
        const params = query({ format: kind.value, time_zone: kind.value === 'entsoe_csv' ? zone.value.trim() : undefined });
        const type = kind.value === 'json' ? 'application/json' : 'text/csv';
        const result = await api(`/prices/${encodeURIComponent(market)}${params}`, { method: 'POST', body: body.value, type });
        message.replaceChildren(`Stored ${format.number(result.stored, 0)} ${result.stored === 1 ? 'price' : 'prices'} of “${result.market}”.`);
        body.value = '';
      } catch (error) {
        message.replaceChildren(h('div', { class: 'form-error', role: 'alert' }, h('strong', {}, 'Not imported.'), h('pre', { class: 'message' }, error.message)));
      }
    },
  },
  h('label', { for: 'prices-market' }, 'Price series (the name plans use)'),
  h('input', { id: 'prices-market', name: 'market', required: true, maxlength: '64', placeholder: 'epex' }),
  h('label', { for: 'prices-format' }, 'Format'),
  kind,
  h('label', { for: 'prices-zone' }, 'Time zone (ENTSO-E only)'),
  zone,
  h('label', { for: 'prices-body' }, 'Prices'),
  body,
  upload('prices-file', 'Or load a file', '.json,.csv,text/csv,application/json', body),
  message,
  h('button', { type: 'submit' }, 'Import prices'));
  return form;
}

/** Renders the tariff management page. */
export async function render(container, { signal }) {
  const list = h('div');
  const viewer = h('div', { id: 'tariff-view' });
  const view = (plan) => {
    viewer.replaceChildren(h('h3', {}, `TOML of “${plan.name}”`), h('pre', { class: 'toml' }, plan.toml));
    viewer.scrollIntoView({ block: 'nearest' });
  };
  const form = planForm(() => load());
  const load = () => fill(list, () => api('/tariffs', { signal }), (plans) => {
    form.names(plans);
    return planTable(plans, view, (plan) => form.edit(plan));
  });
  container.replaceChildren(
    heading('Tariffs'),
    h('p', { class: 'sub' }, 'A meter’s plan is named when the meter is registered; bills and costs use the plan stored here.'),
    card('Plans', list, viewer),
    h('div', { class: 'grid' },
      card('Add or replace a plan', form.element),
      card('Import market prices', priceForm())));
  await load();
}

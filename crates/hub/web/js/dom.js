// Small DOM helpers: building elements, the loading/empty/error states every view shows,
// tables, cards and the confirmation dialogs.

/** Creates `tag` with attributes (`on…` ones become listeners) and children. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  element.append(...children.flat(Infinity).filter((child) => child !== undefined && child !== null && child !== false));
  return element;
}

/** The loading state. */
export function loading(text = 'Loading…') {
  return h('p', { class: 'state loading', role: 'status' }, text);
}

/** The empty state: `text` says why there is nothing. */
export function empty(text) {
  return h('p', { class: 'state empty' }, text);
}

/** The error state. */
export function failure(error) {
  return h('p', { class: 'state error', role: 'alert' }, `Could not load this: ${error.message}`);
}

/**
 * Shows the loading state in `container`, then what `show(data)` returns for the data
 * `load()` resolves to, or the error state. An aborted load (the page was left) shows nothing.
 */
export async function fill(container, load, show) {
  container.replaceChildren(loading());
  try {
    const data = await load();
    container.replaceChildren(...[show(data)].flat());
  } catch (error) {
    if (error.name !== 'AbortError') container.replaceChildren(failure(error));
  }
}

let ids = 0;

/** A titled card; its heading labels it. */
export function card(title, ...body) {
  const id = `card-${++ids}`;
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...body);
}

/** A page heading (focused after navigation, for screen readers and keyboards). */
export function heading(text) {
  return h('h1', { tabindex: '-1' }, text);
}

/**
 * A table: `columns` are `{ label, cell: (row) => text or node, numeric }`; `caption`
 * names it for screen readers.
 */
export function table(caption, columns, rows) {
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', { class: 'sr-only' }, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.numeric ? 'num' : null }, c.label)))),
      h('tbody', {}, rows.map((row) => h('tr', {}, columns.map((c) => h('td', { class: c.numeric ? 'num' : null }, c.cell(row))))))));
}

/** A definition list of `[term, value]` pairs. */
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
}

/**
 * Shows a modal dialog asking `message` with `fields` (elements placed before its buttons);
 * resolves to whether `confirm` was pressed. `danger` colours that button as destructive.
 */
function ask({ title, message, confirm, fields = [], danger = true, onOpen }) {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'confirm-title' }, title),
        h('p', {}, message),
        fields,
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close('') }, 'Cancel'),
          h('button', { type: 'submit', class: danger ? 'danger' : null, value: 'confirm' }, confirm))));
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'confirm');
    });
    document.body.append(dialog);
    dialog.showModal();
    onOpen?.();
  });
}

/** Asks for confirmation; resolves to true when confirmed. */
export function confirmAction({ title, message, confirm, danger }) {
  return ask({ title, message, confirm, danger });
}

/**
 * Asks for confirmation with a required reason; resolves to the reason, or null when
 * cancelled.
 */
export async function confirmWithReason({ title, message, confirm }) {
  const reason = h('textarea', { id: 'confirm-reason', name: 'reason', required: true, rows: '3', maxlength: '500' });
  const confirmed = await ask({
    title,
    message,
    confirm,
    fields: [h('label', { for: 'confirm-reason' }, 'Reason (recorded in the audit log)'), reason],
    onOpen: () => reason.focus(),
  });
  const text = reason.value.trim();
  return confirmed && text ? text : null;
}

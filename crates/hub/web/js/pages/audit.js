// The audit log (admins): who did what to which meter or user, and why.

import { api, query } from '../api.js';
import { empty, fill, h, heading, table } from '../dom.js';
import * as format from '../format.js';

/** Renders the newest audit entries. */
export async function render(container, { signal }) {
  const list = h('div');
  container.replaceChildren(heading('Audit log'), h('p', { class: 'sub' }, 'The 200 newest entries.'), list);
  await fill(list, () => api(`/audit${query({ limit: 200 })}`, { signal }), (entries) =>
    entries.length === 0 ? empty('Nothing has been audited yet.')
      : table('Audit log', [
        { label: 'Time', cell: (e) => format.dateTime(e.ts_ms) },
        { label: 'Who', cell: (e) => e.actor },
        { label: 'Action', cell: (e) => e.action },
        { label: 'On', cell: (e) => e.target },
        { label: 'Detail', cell: (e) => e.detail },
      ], entries));
}

// The meter list: a consumer's own meters; for operators the fleet, searchable by id or
// name.

import { api, query } from '../api.js';
import { empty, fill, h, heading, table } from '../dom.js';
import * as format from '../format.js';

/** Renders the meter list (with a search form for operators). */
export async function render(container, { me, signal }) {
  const operator = me.role !== 'consumer';
  const results = h('div');
  const search = (q) => fill(results, () => api(`/meters${query({ q, limit: 200 })}`, { signal }), (meters) => {
    if (meters.length === 0) return empty(q ? `No meter matches “${q}”.` : 'No meters yet.');
    return table('Meters', [
      { label: 'Meter', cell: (m) => h('a', { href: `/portal/meters/${encodeURIComponent(m.id)}` }, m.id) },
      { label: 'Name', cell: (m) => m.name || format.DASH },
      ...(operator ? [
        { label: 'Owner', cell: (m) => m.owner ?? format.DASH },
        { label: 'Feeder', cell: (m) => m.feeder ?? format.DASH },
        { label: 'Transformer', cell: (m) => m.transformer ?? format.DASH },
      ] : []),
      { label: 'Connection', cell: (m) => (m.revoked ? 'Revoked' : format.presence(m.online)) },
    ], meters);
  });
  const form = h('form', {
    class: 'inline',
    role: 'search',
    onsubmit: (event) => {
      event.preventDefault();
      search(event.target.elements.q.value.trim());
    },
  }, h('label', { for: 'meter-search' }, 'Meter id or name'),
  h('input', { id: 'meter-search', name: 'q', type: 'search' }),
  h('button', { type: 'submit' }, 'Search'));
  // Only operators search; `replaceChildren` would print a `null` as text.
  const searchForm = operator ? [form] : [];
  container.replaceChildren(heading(operator ? 'Meters' : 'Your meters'), ...searchForm, results);
  await search('');
}

// Users (admins): the list and a form to add one.

import { api } from '../api.js';
import { card, empty, fill, h, heading, table } from '../dom.js';
import * as format from '../format.js';

/** Renders the user list and the form to add one. */
export async function render(container, { signal }) {
  const list = h('div');
  const message = h('p', { class: 'form-message', role: 'status' });
  const load = () => fill(list, () => api('/users', { signal }), (users) =>
    users.length === 0 ? empty('No users yet.')
      : table('Users', [
        { label: 'Username', cell: (u) => u.username },
        { label: 'Role', cell: (u) => format.words(u.role) },
        { label: 'Created', cell: (u) => format.dateTime(u.created_ms) },
      ], users));
  const form = h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      const fields = event.target.elements;
      try {
        const user = await api('/users', {
          method: 'POST',
          body: { username: fields.username.value.trim(), role: fields.role.value, password: fields.password.value },
        });
        message.textContent = `Added ${user.username} (${user.role}).`;
        event.target.reset();
        load();
      } catch (error) {
        message.textContent = `Not added: ${error.message}`;
      }
    },
  },
  h('label', { for: 'new-username' }, 'Username'),
  h('input', { id: 'new-username', name: 'username', required: true, maxlength: '64', autocomplete: 'off' }),
  h('label', { for: 'new-role' }, 'Role'),
  h('select', { id: 'new-role', name: 'role' },
    h('option', { value: 'consumer' }, 'Consumer'),
    h('option', { value: 'operator' }, 'Operator'),
    h('option', { value: 'admin' }, 'Admin')),
  h('label', { for: 'new-password' }, 'Password (at least 10 characters)'),
  h('input', { id: 'new-password', name: 'password', type: 'password', required: true, minlength: '10', autocomplete: 'new-password' }),
  message,
  h('button', { type: 'submit' }, 'Add user'));
  container.replaceChildren(heading('Users'), h('div', { class: 'grid' }, card('Everyone', list), card('Add a user', form)));
  await load();
}

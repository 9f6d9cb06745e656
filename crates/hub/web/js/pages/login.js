// The login page: a username and password form; on success, back to where the user was
// sent from (or the start page).

import { api } from '../api.js';
import { h, heading } from '../dom.js';

/** Where to go after logging in: a portal path from `?next=`, or the start page. */
function next() {
  const target = new URLSearchParams(location.search).get('next') ?? '';
  return target.startsWith('/portal/') && !target.startsWith('/portal/login') ? target : '/portal/';
}

/** Renders the login form into `container`. */
export function render(container) {
  const message = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Log in');
  const form = h('form', { class: 'login card', onsubmit: onSubmit },
    heading('Log in to Joule'),
    h('label', { for: 'username' }, 'Username'),
    h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autofocus: true }),
    h('label', { for: 'password' }, 'Password'),
    h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    message,
    submit);
  container.append(form);
  document.title = 'Log in · Joule';
  form.elements.username.focus();

  async function onSubmit(event) {
    event.preventDefault();
    submit.disabled = true;
    message.textContent = '';
    try {
      await api('/auth/login', {
        method: 'POST',
        login: true,
        body: { username: form.elements.username.value, password: form.elements.password.value },
      });
      location.assign(next());
    } catch (error) {
      message.textContent = error.status === 401 ? 'Unknown user or wrong password.' : `Could not log in: ${error.message}`;
      submit.disabled = false;
      form.elements.password.select();
    }
  }
}

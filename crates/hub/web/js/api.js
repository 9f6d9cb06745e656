// The hub's JSON API: requests with the session cookie and the CSRF token on
// state-changing ones, a 401 (session ended) sends the browser to the login page, errors
// carry the hub's `{code, message}`; and server-sent event streams that reconnect.

let csrfToken = null;

/** Remembers the session's CSRF token (from login or /auth/me). */
export function setCsrf(token) {
  csrfToken = token;
}

/** An error answer of the API. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Sends the browser to the login page, coming back here afterwards. */
export function toLogin() {
  const here = location.pathname + location.search;
  location.assign(`/portal/login?next=${encodeURIComponent(here)}`);
}

/**
 * Calls `/api/v1` + `path`; resolves to the JSON answer (null for 204). `body` is sent as
 * JSON, or as it is when `type` names its content type (a CSV upload). A 401 goes to the
 * login page unless `login` is set (the login form shows it instead).
 */
export async function api(path, { method = 'GET', body, type, signal, login = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = type ?? 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined || type ? body : JSON.stringify(body),
    signal,
    credentials: 'same-origin',
  });
  if (response.status === 401 && !login) {
    toLogin();
    throw new ApiError(401, 'unauthorized', 'your session has ended');
  }
  if (!response.ok) {
    const error = await response.json().catch(() => ({ code: 'http', message: response.statusText }));
    throw new ApiError(response.status, error.code, error.message);
  }
  return response.status === 204 ? null : response.json();
}

/** A query string from the defined values of `params`. */
export function query(params) {
  const defined = Object.entries(params).filter(([, value]) => value !== undefined && value !== null && value !== '');
  return defined.length ? `?${new URLSearchParams(defined)}` : '';
}

/**
 * Follows the server-sent event stream at `path`: `onEvent` gets each `name` event's JSON,
 * `onState` `'live'` or `'reconnecting'`. A stream the hub closed for good (a hub restart,
 * an ended session) is checked against /auth/me (401 goes to login) and reopened. Returns
 * the function that stops it.
 */
export function follow(path, name, onEvent, onState) {
  let source = null;
  let retry = null;
  let stopped = false;
  const open = () => {
    source = new EventSource(`/api/v1${path}`);
    source.addEventListener(name, (event) => {
      onState('live');
      onEvent(JSON.parse(event.data));
    });
    source.addEventListener('open', () => onState('live'));
    source.addEventListener('error', () => {
      onState('reconnecting');
      if (source.readyState !== EventSource.CLOSED) return;
      api('/auth/me').then(() => {
        if (!stopped) retry = setTimeout(open, 3000);
      }, () => {});
    });
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(retry);
    source.close();
  };
}

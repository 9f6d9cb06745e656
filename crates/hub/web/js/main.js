// The portal's entry: who is logged in, the navigation for their role, and the router that
// renders a page for the path. The hub enforces roles; this only hides what a role cannot
// use.

import { api, setCsrf } from './api.js';
import { h, heading, empty, failure, loading } from './dom.js';
import * as alerts from './pages/alerts.js';
import * as audit from './pages/audit.js';
import * as bill from './pages/bill.js';
import * as bills from './pages/bills.js';
import * as events from './pages/events.js';
import * as fleet from './pages/fleet.js';
import * as historyPage from './pages/history.js';
import * as insights from './pages/insights.js';
import * as login from './pages/login.js';
import * as meter from './pages/meter.js';
import * as meters from './pages/meters.js';
import * as run from './pages/run.js';
import * as runs from './pages/runs.js';
import * as tariffs from './pages/tariffs.js';
import * as users from './pages/users.js';

const RANK = { consumer: 0, operator: 1, admin: 2 };

/** Pages by path; `role` is the least role that may use one. */
const ROUTES = [
  { path: /^\/portal\/$/, page: { render: home } },
  { path: /^\/portal\/meters$/, page: meters },
  { path: /^\/portal\/meters\/([^/]+)$/, page: meter },
  { path: /^\/portal\/meters\/([^/]+)\/history$/, page: historyPage },
  { path: /^\/portal\/bills\/([^/]+)\/(\d+)$/, page: bill },
  { path: /^\/portal\/bills$/, page: bills },
  { path: /^\/portal\/insights$/, page: insights },
  { path: /^\/portal\/alerts$/, page: alerts },
  { path: /^\/portal\/fleet$/, page: fleet, role: 'operator' },
  { path: /^\/portal\/events$/, page: events, role: 'operator' },
  { path: /^\/portal\/billing$/, page: runs, role: 'operator' },
  { path: /^\/portal\/billing\/(\d+)$/, page: run, role: 'operator' },
  { path: /^\/portal\/tariffs$/, page: tariffs, role: 'operator' },
  { path: /^\/portal\/users$/, page: users, role: 'admin' },
  { path: /^\/portal\/audit$/, page: audit, role: 'admin' },
];

/** The navigation: label, path, least role, and for consumers only. */
const NAV = [
  { label: 'Home', path: '/portal/', role: 'consumer', consumers: true },
  { label: 'Fleet', path: '/portal/fleet', role: 'operator' },
  { label: 'Meters', path: '/portal/meters', role: 'consumer' },
  { label: 'Events', path: '/portal/events', role: 'operator' },
  { label: 'Billing runs', path: '/portal/billing', role: 'operator' },
  { label: 'Tariffs', path: '/portal/tariffs', role: 'operator' },
  { label: 'Bills', path: '/portal/bills', role: 'consumer', consumers: true },
  { label: 'Insights', path: '/portal/insights', role: 'consumer', consumers: true },
  { label: 'Alerts', path: '/portal/alerts', role: 'consumer' },
  { label: 'Users', path: '/portal/users', role: 'admin' },
  { label: 'Audit log', path: '/portal/audit', role: 'admin' },
];

const main = document.getElementById('main');
let me = null;
let leave = null;

/** Whether the logged-in user has at least `role`. */
function allowed(role) {
  return RANK[me.role] >= RANK[role ?? 'consumer'];
}

/** The start page: a consumer's own meter (or their list), an operator's fleet. */
async function home(container, context) {
  if (allowed('operator')) return go('/portal/fleet', { replace: true });
  const mine = await api('/meters', { signal: context.signal });
  if (mine.length === 1) return go(`/portal/meters/${encodeURIComponent(mine[0].id)}`, { replace: true });
  if (mine.length === 0) {
    container.replaceChildren(heading('Welcome'), empty('No meter is linked to your account yet. Ask your energy provider to link yours.'));
    return undefined;
  }
  return go('/portal/meters', { replace: true });
}

function drawNavigation() {
  const nav = document.getElementById('nav');
  const items = NAV.filter((item) => allowed(item.role) && !(item.consumers && allowed('operator')));
  nav.replaceChildren(h('ul', {}, items.map((item) => h('li', {}, h('a', { href: item.path }, item.label)))));
  markCurrent();
  document.getElementById('who').replaceChildren(
    h('span', {}, `${me.username} (${me.role})`),
    h('button', { type: 'button', class: 'secondary', onclick: logout }, 'Log out'));
}

function markCurrent() {
  for (const link of document.querySelectorAll('#nav a')) {
    const path = link.getAttribute('href');
    const current = path === '/portal/' ? location.pathname === path : location.pathname.startsWith(path);
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

async function logout() {
  try {
    await api('/auth/logout', { method: 'POST' });
  } finally {
    location.assign('/portal/login');
  }
}

/** Shows the page for `path` (pushed to history unless `replace`). */
async function go(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else if (path !== location.pathname + location.search) history.pushState(null, '', path);
  await show();
}

async function show() {
  if (leave) leave();
  const controller = new AbortController();
  const cleanups = [() => controller.abort()];
  leave = () => cleanups.forEach((cleanup) => cleanup());
  // A cleanup registered after the page was left (its data came late) runs at once.
  const onLeave = (cleanup) => (controller.signal.aborted ? cleanup() : cleanups.push(cleanup));
  markCurrent();
  // Each page draws into its own element, so a page left before its data came draws
  // into nothing.
  const page = h('div', {}, loading());
  main.replaceChildren(page);
  const route = ROUTES.find((r) => r.path.test(location.pathname));
  if (!route) {
    page.replaceChildren(heading('Page not found'), empty('There is no such page in the portal.'));
  } else if (!allowed(route.role)) {
    page.replaceChildren(heading('Not allowed'), empty(`This page needs the ${route.role} role.`));
  } else {
    const params = route.path.exec(location.pathname).slice(1).map(decodeURIComponent);
    const context = { me, params, go, signal: controller.signal, onLeave };
    try {
      await route.page.render(page, context);
    } catch (error) {
      if (error.name !== 'AbortError') page.replaceChildren(heading('Something went wrong'), failure(error));
    }
  }
  if (controller.signal.aborted) return;
  const title = page.querySelector('h1');
  document.title = title ? `${title.textContent} · Joule` : 'Joule';
  title?.focus({ preventScroll: true });
}

/** Follows links inside the portal without reloading the page. */
function onClick(event) {
  const link = event.target.closest('a[href^="/portal/"]');
  if (!link || link.hasAttribute('download') || link.target || event.defaultPrevented) return;
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  go(link.getAttribute('href'));
}

async function start() {
  if (location.pathname === '/portal/login') {
    main.replaceChildren();
    login.render(main);
    return;
  }
  try {
    me = await api('/auth/me');
  } catch (error) {
    if (error.status !== 401) main.replaceChildren(failure(error));
    return;
  }
  setCsrf(me.csrf_token);
  drawNavigation();
  document.addEventListener('click', onClick);
  window.addEventListener('popstate', show);
  await show();
}

start();

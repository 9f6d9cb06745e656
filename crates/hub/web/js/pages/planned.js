// Alerts. Their API is not on every hub yet: the page asks the hub's OpenAPI document
// whether it serves them and says so honestly when it does not.

import { apiPaths } from '../api.js';
import { card, empty, h, heading } from '../dom.js';

const VIEWS = {
  alerts: { title: 'Alerts', fragment: '/alerts', missing: 'Alerts are not enabled on this hub yet, so none can be set or shown.' },
};

/** Renders the alerts page (`params[0]`). */
export async function render(container, { params: [which] }) {
  const view = VIEWS[which];
  const paths = (await apiPaths()).filter((path) => path.includes(view.fragment));
  container.replaceChildren(heading(view.title), paths.length === 0
    ? empty(view.missing)
    : card('Through the API', h('p', {}, `This hub serves ${view.title.toLowerCase()} at:`),
      h('ul', {}, paths.map((path) => h('li', {}, h('code', {}, path))))));
}

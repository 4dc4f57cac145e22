// Helpers every console page shares: elements, durations, UTC times, JSON fetches that send a
// lapsed session back to the login form, and the refresh status line. Plain browser JavaScript.
/* global document, window, fetch, URLSearchParams */

export function text(tag, content, className) {
  const element = document.createElement(tag);
  if (content !== undefined && content !== null) element.textContent = String(content);
  if (className) element.className = className;
  return element;
}

export function link(href, content, className) {
  const element = text('a', content, className);
  element.href = href;
  return element;
}

/** A table cell holding the given nodes or text. */
export function cell(...children) {
  const element = document.createElement('td');
  element.append(...children.map((c) => (typeof c === 'string' ? document.createTextNode(c) : c)));
  return element;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

/** Every time on the console is shown in UTC, as the JSON carries it: one clock for every panel. */
export function utc(iso) {
  if (!iso) return '';
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

export const orderHref = (id) => `/admin/machine?order=${encodeURIComponent(id)}`;

export class HttpError extends Error {
  constructor(status, body) {
    const error = body?.error;
    super(error ? `${error.field ? `${error.field}: ` : ''}${error.message} (${error.code})` : `HTTP ${status}`);
    this.status = status;
  }
}

export async function getJson(url, options) {
  const response = await fetch(url, { credentials: 'same-origin', ...options });
  if (response.status === 401) {
    window.location.href = `/admin/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`;
    throw new Error('not logged in');
  }
  const body = await response.json();
  if (!response.ok) throw new HttpError(response.status, body);
  return body;
}

export function showStatus(error) {
  const status = document.getElementById('refresh-status');
  status.textContent = error ? `refresh failed: ${error.message}` : `updated ${utc(new Date().toISOString())} UTC`;
  status.className = error ? 'error' : '';
}

/** The page's query parameters without the empty ones (a form sends every field). */
export function givenParameters() {
  const given = new URLSearchParams();
  for (const [name, value] of new URLSearchParams(window.location.search)) if (value !== '') given.set(name, value);
  return given;
}

/** Fills a filter form from the page's query, so the form shows what the list shows. */
export function fillForm(form, parameters) {
  for (const [name, value] of parameters) {
    const field = form.elements.namedItem(name);
    if (field && 'value' in field) field.value = value;
  }
}

/**
 * A list page: fetches one page of `api` with the page's own query (the form shows it), renders
 * its rows into table `tableId` (hidden when empty, `<tableId>-none` shown instead), points the
 * next-page link at the following cursor, and shows a 400's field and message in #list-problem.
 * `accept(page)` may take the page over (return true) before anything is rendered.
 */
export async function loadListPage({ api, pagePath, tableId, rowsOf, rowOf, accept = () => false }) {
  const parameters = givenParameters();
  fillForm(document.getElementById('filters'), parameters);
  const problem = document.getElementById('list-problem');
  try {
    const page = await getJson(`${api}?${parameters}`);
    if (accept(page, parameters)) return;
    const rows = rowsOf(page);
    document.querySelector(`#${tableId} tbody`).replaceChildren(...rows.map((r) => rowOf(r)));
    document.getElementById(tableId).hidden = rows.length === 0;
    document.getElementById(`${tableId}-none`).hidden = rows.length > 0;
    const next = document.getElementById('next-page');
    next.hidden = page.next_cursor === null;
    if (page.next_cursor !== null) {
      const following = new URLSearchParams(parameters);
      following.set('cursor', page.next_cursor);
      next.href = `${pagePath}?${following}`;
    }
    problem.hidden = true;
    showStatus(null);
  } catch (error) {
    problem.textContent = error.message;
    problem.hidden = false;
    showStatus(error);
  }
}

/** A viewer sees every page but acts on nothing. */
export const isViewer = () => document.body.dataset.role === 'viewer';

/** A table row of the given cells, with data-* attributes. */
export function row(cells, dataset = {}) {
  const element = document.createElement('tr');
  Object.assign(element.dataset, dataset);
  element.append(...cells);
  return element;
}

/** What an audit entry acted on: its order (linked), product or other target. */
function subjectOf(entry) {
  if (entry.order_id) return cell(link(orderHref(entry.order_id), entry.order_id, 'mono'));
  if (entry.product_id)
    return cell(link(`/admin/audit?product_id=${encodeURIComponent(entry.product_id)}`, entry.product_id));
  return text('td', entry.target ?? '');
}

/** One audit entry as a table row: time, who, action, [subject,] outcome, detail. */
export function auditRow(entry, { subject = false } = {}) {
  const detail = Object.keys(entry.detail).length === 0 ? '' : JSON.stringify(entry.detail);
  return row(
    [
      text('td', utc(entry.at)),
      cell(link(`/admin/audit?actor=${encodeURIComponent(entry.actor)}`, entry.actor), ` (${entry.actor_role})`),
      text('td', entry.action),
      ...(subject ? [subjectOf(entry)] : []),
      text('td', entry.outcome, entry.outcome === 'ok' ? 'outcome-ok' : 'outcome-refused'),
      text('td', detail, 'mono detail'),
    ],
    { action: entry.action, outcome: entry.outcome },
  );
}

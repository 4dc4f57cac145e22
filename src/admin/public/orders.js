// The orders list: the page's query is the filter (the form shows it), one page from
// GET /api/v1/admin/orders, and a link to the next page by its cursor. A search for an order id
// that finds that order opens its view. A bad filter shows the API's 400, naming the field.
/* global document, window, URLSearchParams */
import {
  cell,
  duration,
  fillForm,
  getJson,
  givenParameters,
  link,
  orderHref,
  row,
  showStatus,
  text,
  utc,
} from './common.js';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const parameters = givenParameters();

function orderRow(order) {
  const status = text('span', order.status, 'badge');
  status.dataset.status = order.status;
  return row(
    [
      cell(link(orderHref(order.id), order.id, 'mono')),
      cell(status),
      cell(link(`/admin/orders?state=${encodeURIComponent(order.state)}`, order.state)),
      text('td', duration(order.in_state_seconds)),
      text('td', `${order.total} ${order.currency}`, 'number'),
      cell(link(`/admin/orders?user_id=${encodeURIComponent(order.user_id)}`, order.user_id)),
      text('td', utc(order.created_at)),
      text('td', order.failure_reason ?? ''),
    ],
    { orderId: order.id, state: order.state, status: order.status },
  );
}

async function load() {
  const problem = document.getElementById('list-problem');
  try {
    const page = await getJson(`/api/v1/admin/orders?${parameters}`);
    const q = parameters.get('q');
    if (q && uuid.test(q) && page.orders.length === 1 && page.orders[0].id === q.toLowerCase()) {
      window.location.replace(orderHref(q.toLowerCase()));
      return;
    }
    document.querySelector('#orders tbody').replaceChildren(...page.orders.map(orderRow));
    document.getElementById('orders').hidden = page.orders.length === 0;
    document.getElementById('orders-none').hidden = page.orders.length > 0;
    const next = document.getElementById('next-page');
    next.hidden = page.next_cursor === null;
    if (page.next_cursor !== null) {
      const following = new URLSearchParams(parameters);
      following.set('cursor', page.next_cursor);
      next.href = `/admin/orders?${following}`;
    }
    problem.hidden = true;
    showStatus(null);
  } catch (error) {
    problem.textContent = error.message;
    problem.hidden = false;
    showStatus(error);
  }
}

fillForm(document.getElementById('filters'), parameters);
if (parameters.has('q')) document.getElementById('search-q').value = parameters.get('q');
void load();

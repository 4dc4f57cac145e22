// The orders list: the page's query is the filter (the form shows it), one page from
// GET /api/v1/admin/orders, and a link to the next page by its cursor. A search for an order id
// that finds that order opens its view. A bad filter shows the API's 400, naming the field.
/* global document, window, URLSearchParams */
import { cell, duration, link, loadListPage, orderHref, row, text, utc } from './common.js';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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

/** A search for an order id that finds that order opens its view. */
function openFoundOrder(page, parameters) {
  const q = parameters.get('q');
  const found = q && uuid.test(q) && page.orders.length === 1 && page.orders[0].id === q.toLowerCase();
  if (found) window.location.replace(orderHref(q.toLowerCase()));
  return found;
}

const given = new URLSearchParams(window.location.search).get('q');
if (given) document.getElementById('search-q').value = given;
void loadListPage({
  api: '/api/v1/admin/orders',
  pagePath: '/admin/orders',
  tableId: 'orders',
  rowsOf: (page) => page.orders,
  rowOf: orderRow,
  accept: openFoundOrder,
});

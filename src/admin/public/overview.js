// The landing page: the fleet in flight, the invariants (green or red, with the last check's
// time), stuck orders, dead letters, parked outbox rows and the latest operator actions, each
// linking to where it is handled. Polls every 5 s.
/* global document, setTimeout */
import { duration, getJson, link, orderHref, showStatus, utc } from './common.js';

const pollIntervalMs = 5000;

function item(...children) {
  const element = document.createElement('li');
  element.append(...children.map((c) => (typeof c === 'string' ? document.createTextNode(c) : c)));
  return element;
}

function renderFleet(fleet) {
  document.getElementById('fleet-summary').textContent = `${fleet.in_flight} order(s) in flight`;
  document
    .getElementById('fleet-states')
    .replaceChildren(
      ...fleet.states.map((s) =>
        item(link(`/admin/orders?state=${encodeURIComponent(s.state)}`, s.state), `: ${s.count}`),
      ),
    );
  const statuses = Object.entries(fleet.by_status).map(([status, n]) => `${status} ${n}`);
  document.getElementById('fleet-statuses').textContent =
    statuses.length === 0 ? '' : `All orders by status: ${statuses.join(', ')}`;
}

function renderInvariants(invariants) {
  const card = document.getElementById('invariants-card');
  card.dataset.health = invariants.all_hold === null ? 'unknown' : invariants.all_hold ? 'green' : 'red';
  document.getElementById('invariants-checked').textContent =
    invariants.checked_at === null ? 'not checked yet' : `last checked ${utc(invariants.checked_at)} UTC`;
  document.getElementById('invariants').replaceChildren(
    ...invariants.checks.map((c) => {
      const element = item(`${c.holds ? '✓' : '✗'} ${c.invariant.replaceAll('_', ' ')}`);
      element.className = c.holds ? 'holds' : 'broken';
      element.dataset.invariant = c.invariant;
      return element;
    }),
  );
}

function listed(rows, max) {
  return rows.length >= max ? `${max}+ (the oldest ${max} shown)` : String(rows.length);
}

function renderProblems(body) {
  const { stuck, dead_letters: dead, parked } = body;
  document.getElementById('stuck-card').dataset.health = stuck.orders.length === 0 ? 'green' : 'red';
  document.getElementById('stuck-summary').textContent = `${listed(stuck.orders, stuck.listed_max)} stuck`;
  document
    .getElementById('stuck-orders')
    .replaceChildren(
      ...stuck.orders.map((s) =>
        item(link(orderHref(s.id), s.id, 'mono'), ` in ${s.state} for ${duration(s.age_seconds)}`),
      ),
    );
  const total = dead.by_queue.reduce((sum, q) => sum + q.count, 0);
  document.getElementById('dead-card').dataset.health = total === 0 ? 'green' : 'red';
  document.getElementById('dead-summary').textContent =
    `${total} awaiting a redrive` +
    (total === 0 ? '' : `: ${dead.by_queue.map((q) => `${q.queue} ${q.count}`).join(', ')}`);
  document
    .getElementById('dead-letters')
    .replaceChildren(
      ...dead.recent.map((d) =>
        item(
          d.order_id ? link(orderHref(d.order_id), d.order_id, 'mono') : d.job_id,
          ` ${d.queue}: ${d.error} `,
          link(d.board_url, 'job'),
        ),
      ),
    );
  document.getElementById('parked-card').dataset.health = parked.rows.length === 0 ? 'green' : 'red';
  document.getElementById('parked-summary').textContent = `${listed(parked.rows, parked.listed_max)} parked`;
  document
    .getElementById('parked')
    .replaceChildren(
      ...parked.rows.map((p) =>
        item(`#${p.id} ${p.type} of `, link(orderHref(p.order_id), p.order_id, 'mono'), `: ${p.last_error ?? ''}`),
      ),
    );
}

async function refresh() {
  try {
    const [body, audit] = await Promise.all([
      getJson('/api/v1/admin/overview'),
      getJson('/api/v1/admin/audit?limit=8'),
    ]);
    renderFleet(body.fleet);
    renderInvariants(body.invariants);
    renderProblems(body);
    document
      .getElementById('recent-audit')
      .replaceChildren(...audit.entries.map((e) => item(`${utc(e.at)} ${e.actor} ${e.action} → ${e.outcome}`)));
    showStatus(null);
  } catch (error) {
    showStatus(error);
  }
  setTimeout(refresh, pollIntervalMs);
}

void refresh();

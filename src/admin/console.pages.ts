// The console's page shells: the landing page (/admin), the orders list (/admin/orders) and the
// audit trail (/admin/audit). Each is filled by its local script from the JSON endpoints, so the
// page and `curl` see the same answers.
import type { Principal } from '../platform/auth.ts';
import { escapeHtml, layout, searchForm } from './admin.pages.ts';

const orderStatuses = ['pending', 'cancelling', 'confirmed', 'rejected', 'failed', 'expired', 'cancelled'];

const options = (values: readonly string[]) =>
  ['<option value="">any</option>', ...values.map((v) => `<option>${escapeHtml(v)}</option>`)].join('');

export function overviewPage(principal: Principal | undefined): string {
  return layout({
    title: 'Order engine: overview',
    heading: 'Order engine',
    bodyClass: 'overview-page',
    principal,
    headerExtra: searchForm,
    script: 'overview.js',
    main: `<div class="cards">
  <section id="fleet-card" class="card"><h2><a href="/admin/machine">Fleet</a></h2>
    <p id="fleet-summary"></p><ul id="fleet-states"></ul><p id="fleet-statuses"></p></section>
  <section id="invariants-card" class="card"><h2><a href="/admin/machine">Invariants</a></h2>
    <p id="invariants-checked"></p><ul id="invariants"></ul>
    <p><a href="/api/v1/ledger/validate">Validate the ledger</a></p></section>
  <section id="stuck-card" class="card"><h2><a href="/admin/machine#fleet">Stuck orders</a></h2>
    <p id="stuck-summary"></p><ul id="stuck-orders"></ul></section>
  <section id="dead-card" class="card"><h2><a href="/admin/queues">Dead letters</a></h2>
    <p id="dead-summary"></p><ul id="dead-letters"></ul></section>
  <section id="parked-card" class="card"><h2>Parked outbox rows</h2>
    <p id="parked-summary"></p><ul id="parked"></ul>
    <p class="hint">Replay: <code>npm run outbox -- replay &lt;id&gt;</code></p></section>
  <section id="audit-card" class="card"><h2><a href="/admin/audit">Recent operator actions</a></h2>
    <ul id="recent-audit"></ul></section>
</div>`,
  });
}

export function ordersPage(principal: Principal | undefined, stateIds: readonly string[]): string {
  return layout({
    title: 'Order engine: orders',
    heading: 'Orders',
    bodyClass: 'orders-page',
    principal,
    headerExtra: searchForm,
    script: 'orders.js',
    main: `<form id="filters" class="filters" action="/admin/orders" method="get">
  <label>status <select name="status">${options(orderStatuses)}</select></label>
  <label>state <select name="state">${options(stateIds)}</select></label>
  <label>user <input name="user_id" size="16" maxlength="64"></label>
  <label>failure reason <input name="failure_reason" size="16" maxlength="64"></label>
  <label>created after <input name="created_after" size="22" placeholder="2026-12-01T00:00:00Z"></label>
  <label>created before <input name="created_before" size="22" placeholder="2026-12-02T00:00:00Z"></label>
  <input type="hidden" name="q">
  <button type="submit">Filter</button> <a href="/admin/orders">clear</a>
</form>
<p id="list-problem" class="error" role="alert" hidden></p>
<table id="orders"><thead><tr><th>order</th><th>status</th><th>state</th><th>in state for</th><th>total</th>
  <th>user</th><th>created (UTC)</th><th>reason</th></tr></thead><tbody></tbody></table>
<p id="orders-none" hidden>No order matches.</p>
<p><a id="next-page" hidden>Next page →</a></p>`,
  });
}

export function auditPage(principal: Principal | undefined): string {
  return layout({
    title: 'Order engine: audit trail',
    heading: 'Audit trail',
    bodyClass: 'audit-page',
    principal,
    headerExtra: searchForm,
    script: 'audit.js',
    main: `<form id="filters" class="filters" action="/admin/audit" method="get">
  <label>who <input name="actor" size="14" maxlength="64"></label>
  <label>action <input name="action" size="18" maxlength="64" placeholder="order.force_cancel"></label>
  <label>order <input name="order_id" size="36" maxlength="36"></label>
  <label>product <input name="product_id" size="14" maxlength="64"></label>
  <label>outcome <input name="outcome" size="14" maxlength="64" placeholder="ok"></label>
  <label>after <input name="after" size="22" placeholder="2026-12-01T00:00:00Z"></label>
  <label>before <input name="before" size="22"></label>
  <button type="submit">Filter</button> <a href="/admin/audit">clear</a>
</form>
<p id="list-problem" class="error" role="alert" hidden></p>
<table id="audit"><thead><tr><th>time (UTC)</th><th>who</th><th>action</th><th>order / product / target</th>
  <th>outcome</th><th>detail</th></tr></thead><tbody></tbody></table>
<p id="audit-none" hidden>No entry matches.</p>
<p><a id="next-page" hidden>Next page →</a></p>`,
  });
}

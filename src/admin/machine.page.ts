// The visualizer's HTML: the machine's SVG inline, panels for the fleet and for one order, and
// the local script that fills them (public/machine.js). No CDN, no web font.

export function machinePage(svg: string, stuckAfterMs: number): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Order engine: state machine</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/admin/static/admin.css"></head>
<body class="machine-page" data-stuck-after-ms="${stuckAfterMs}">
<header>
  <h1>Order machine</h1>
  <nav><a href="/admin/machine">Fleet</a> <a href="/admin/queues">Queues</a> <a href="/admin/logout">Log out</a></nav>
  <form id="order-search" action="/admin/machine" method="get">
    <label for="order-id">Order</label>
    <input id="order-id" name="order" placeholder="order id (UUID)" size="38" pattern="[0-9a-fA-F-]{36}">
    <button type="submit">Show</button>
  </form>
  <span id="refresh-status" aria-live="polite"></span>
</header>
<main>
  <section id="drawing" aria-label="State machine drawing">
    <p class="legend"><span class="key key-state">state</span> <span class="key key-final">final</span>
      <span class="key key-compensation">compensation</span> <span class="key key-path">this order's path</span>
      <span class="key key-current">current state</span> <span class="key key-stuck">has stuck orders</span></p>
    ${svg}
  </section>
  <section id="fleet" aria-label="Fleet">
    <h2>Stuck orders <small>(in flight, untouched for more than <span id="stuck-after"></span>)</small></h2>
    <table id="stuck-table"><thead><tr><th>order</th><th>state</th><th>stuck for</th><th>last transition</th>
      <th>waiting for</th><th>job attempts</th></tr></thead><tbody></tbody></table>
    <p id="stuck-none" hidden>No stuck order.</p>
  </section>
  <section id="order" aria-label="Order" hidden>
    <h2>Order <code id="order-title"></code> <span id="order-status" class="badge"></span></h2>
    <p id="order-summary"></p>
    <p class="actions">
      <button id="force-cancel" type="button">Force-cancel</button>
      <button id="redrive" type="button">Redrive dead letters</button>
      <span id="action-result" role="status"></span>
    </p>
    <h3>Timeline</h3>
    <table id="timeline"><thead><tr><th>#</th><th>time</th><th>event</th><th>from → to</th><th>message id</th>
      <th>time in state</th><th>outbox rows written</th></tr></thead><tbody></tbody></table>
    <h3>Waiting for</h3><ul id="waiting"></ul>
    <h3>Dead letters</h3><ul id="dead-letters"></ul>
  </section>
</main>
<script type="module" src="/admin/static/machine.js"></script>
</body></html>`;
}

// The visualizer's HTML: the machine's SVG inline, panels for the fleet and for one order (the
// order itself, the resolve form while it needs attention, its timeline, the messages it waits
// for with their jobs, its Kafka events and its audit entries), and the local script that fills
// them (public/machine.js). No CDN, no web font.
import type { Principal } from '../platform/auth.ts';
import { layout, searchForm } from './admin.pages.ts';

// Shown while the order is halted in needs_attention: what failed, and the two ways out (POST
// .../resolve). The note is the operator's reason, kept in the audit trail and the transition.
const attentionPanel = `<section id="attention" class="attention" aria-label="Needs attention" hidden>
      <h3>Needs attention <small>(an undo failed for good: only an operator moves this order)</small></h3>
      <dl id="attention-facts" class="facts"></dl>
      <p><label for="attention-note">Note <small>(required: why, and what was done; kept in the audit trail)</small></label>
        <textarea id="attention-note" rows="2" maxlength="1000"></textarea></p>
      <p class="actions">
        <button id="resolve-retry" type="button" data-action="retry">Retry the undo</button>
        <button id="resolve-mark" type="button" data-action="mark_compensated">Mark compensated by hand</button>
      </p>
    </section>`;

const orderPanel = `<section id="order" aria-label="Order" hidden>
    <h2>Order <code id="order-title"></code> <span id="order-status" class="badge"></span></h2>
    <p id="order-summary"></p>
    <p class="actions">
      <button id="force-cancel" type="button">Force-cancel</button>
      <button id="redrive" type="button">Redrive dead letters</button>
      <span id="action-result" role="status"></span>
    </p>
    ${attentionPanel}
    <div class="columns">
      <dl id="order-facts" class="facts"></dl>
      <div><h3>Items</h3>
        <table id="order-items"><thead><tr><th>product</th><th>quantity</th><th>unit price</th></tr></thead>
        <tbody></tbody></table></div>
    </div>
    <h3>Timeline <small>(times in UTC)</small></h3>
    <table id="timeline"><thead><tr><th>#</th><th>time</th><th>event</th><th>from → to</th><th>message id</th>
      <th>time in state</th><th>outbox rows written</th></tr></thead><tbody></tbody></table>
    <h3>Waiting for</h3>
    <table id="waiting"><thead><tr><th>message</th><th>queue</th><th>job state</th><th>attempts</th>
      <th>last error</th><th>next attempt</th><th>job</th></tr></thead><tbody></tbody></table>
    <p id="waiting-none" hidden>Nothing: no message of this order is waiting for a worker.</p>
    <h3>Kafka events <small>(from the outbox; delivered rows are pruned after their retention)</small></h3>
    <table id="events"><thead><tr><th>type</th><th>topic</th><th>written</th><th>published</th>
      <th>attempts</th><th>last error</th></tr></thead><tbody></tbody></table>
    <h3>Dead letters</h3><ul id="dead-letters"></ul><p id="dead-letters-none" hidden>None.</p>
    <h3>Audit <small>(operator actions on this order)</small></h3>
    <table id="order-audit"><thead><tr><th>time</th><th>who</th><th>action</th><th>outcome</th><th>detail</th></tr>
      </thead><tbody></tbody></table>
    <p id="order-audit-none" hidden>No operator has acted on this order.</p>
  </section>`;

export function machinePage(svg: string, stuckAfterMs: number, principal: Principal | undefined): string {
  return layout({
    title: 'Order engine: state machine',
    heading: 'Order machine',
    bodyClass: 'machine-page',
    principal,
    headerExtra: searchForm,
    data: { 'stuck-after-ms': String(stuckAfterMs) },
    script: 'machine.js',
    main: `<section id="drawing" aria-label="State machine drawing">
    <p class="legend"><span class="key key-state">state</span> <span class="key key-final">final</span>
      <span class="key key-compensation">compensation</span> <span class="key key-path">this order's path</span>
      <span class="key key-current">current state</span> <span class="key key-stuck">has stuck orders</span>
      <span class="hint">Click a state to list its orders.</span></p>
    ${svg}
  </section>
  <section id="fleet" aria-label="Fleet">
    <h2>Stuck orders <small>(in flight, untouched for more than <span id="stuck-after"></span>)</small></h2>
    <table id="stuck-table"><thead><tr><th>order</th><th>state</th><th>stuck for</th><th>last transition</th>
      <th>waiting for</th><th>job attempts</th></tr></thead><tbody></tbody></table>
    <p id="stuck-none" hidden>No stuck order.</p>
  </section>
  ${orderPanel}`,
  });
}

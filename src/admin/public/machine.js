// The visualizer's script: puts live counts on the machine's SVG, lists stuck orders, and for
// one order (?order=<id>) highlights its path and shows all of it: the order, its timeline, the
// jobs it waits for (with their Bull Board pages), its Kafka events and its audit entries. Polls
// every 2 s; a click on a state opens the orders list filtered by that state. The order's actions:
// force-cancel, redrive, and resolve (retry or mark compensated) while it needs attention.
/* global document, window, setTimeout, confirm, CSS, URLSearchParams */
import { auditRow, cell, duration, getJson, isViewer, link, orderHref, row, showStatus, text, utc } from './common.js';

const pollIntervalMs = 2000;
const orderId = new URLSearchParams(window.location.search).get('order');
const svg = document.getElementById('machine-svg');

/** 'compensating.refunding' -> ['compensating', 'compensating.refunding'] */
function withAncestors(state) {
  const parts = state.split('.');
  return parts.map((_, index) => parts.slice(0, index + 1).join('.'));
}

function stateElement(id) {
  return svg.querySelector(`[data-state="${CSS.escape(id)}"]`);
}

/** A timer not yet due is shown as such: the order is not waiting on a worker for it. */
function isTimer(w) {
  return Date.parse(w.due_at) > Date.now();
}

function awaitedText(w) {
  if (isTimer(w)) return `${w.type} (timer, due in ${duration((Date.parse(w.due_at) - Date.now()) / 1000)})`;
  return `${w.type} → ${w.destination}`;
}

function attemptsText(w) {
  if (w.job) return `${w.type}: ${w.job.attempts_made} attempt(s), ${w.job.state}`;
  return isTimer(w) ? '' : `${w.type}: no job (the sweeper hands it over)`;
}

function renderFleet(body) {
  const stuckStates = new Set(body.fleet.stuck.flatMap((s) => withAncestors(s.state)));
  for (const s of body.fleet.states) {
    const label = svg.querySelector(`[data-count-for="${CSS.escape(s.state)}"]`);
    if (label) {
      const age = s.oldest_age_seconds === null ? '' : ` · ${duration(s.oldest_age_seconds)}`;
      label.textContent = s.count > 0 ? `${s.count}${age}` : '';
    }
    stateElement(s.state)?.classList.toggle('has-stuck', stuckStates.has(s.state));
  }
  document.getElementById('stuck-after').textContent = duration(body.fleet.stuck_after_ms / 1000);
  const rows = document.querySelector('#stuck-table tbody');
  rows.replaceChildren(
    ...body.fleet.stuck.map((s) => {
      const row = document.createElement('tr');
      row.dataset.orderId = s.id;
      const last = s.last_transition;
      row.append(
        cell(link(orderHref(s.id), s.id)),
        text('td', s.state),
        text('td', duration(s.age_seconds)),
        text('td', last ? `#${last.seq} ${last.event_type} (${last.message_id}) at ${utc(last.at)}` : ''),
        text('td', s.waiting_for.map(awaitedText).join(', ')),
        text('td', s.waiting_for.map(attemptsText).filter(Boolean).join(', ')),
      );
      return row;
    }),
  );
  document.getElementById('stuck-none').hidden = body.fleet.stuck.length > 0;
}

function highlightPath(timeline) {
  for (const element of svg.querySelectorAll('.on-path, .current')) element.classList.remove('on-path', 'current');
  const visited = new Set(
    timeline.transitions
      .flatMap((t) => [t.from_state, t.to_state])
      .filter(Boolean)
      .flatMap(withAncestors),
  );
  for (const state of visited) stateElement(state)?.classList.add('on-path');
  for (const state of withAncestors(timeline.order.state)) stateElement(state)?.classList.add('current');
  for (const edge of svg.querySelectorAll('[data-transition]')) {
    const { source, target, event } = edge.dataset;
    const taken = timeline.transitions.some(
      (t) =>
        t.event_type === event && t.from_state && withAncestors(t.from_state).includes(source) && visited.has(target),
    );
    const implied = (event === 'always' || event === 'done') && visited.has(source) && visited.has(target);
    edge.classList.toggle('on-path', taken || implied);
  }
}

function address(a) {
  return [a.name, a.street, a.street2, a.city, a.state, a.postal_code, a.country].filter(Boolean).join(', ');
}

/** [name, value] pairs as <dt>/<dd> pairs, each <dd> named by data-fact. */
function definitions(facts) {
  return facts.flatMap(([name, value]) => {
    const definition = document.createElement('dd');
    definition.dataset.fact = name;
    definition.append(value);
    return [text('dt', name), definition];
  });
}

function renderFacts(order) {
  const facts = [
    ['user', link(`/admin/orders?user_id=${encodeURIComponent(order.user_id)}`, order.user_id)],
    ['total', `${order.total} ${order.currency} (subtotal ${order.subtotal}, discount ${order.discount})`],
    ['coupon', order.coupon_code ?? 'none'],
    ['ship to', address(order.shipping_address)],
    ['correlation id', link(`/admin/orders?q=${encodeURIComponent(order.correlation_id)}`, order.correlation_id)],
    ['created', `${utc(order.created_at)} UTC`],
    ['last transition', `${utc(order.updated_at)} UTC (version ${order.version})`],
    ['final', order.finalized_at ? `${utc(order.finalized_at)} UTC` : 'not yet'],
    ['reason', order.failure_reason ?? ''],
  ];
  document.getElementById('order-facts').replaceChildren(...definitions(facts));
  document
    .querySelector('#order-items tbody')
    .replaceChildren(
      ...order.items.map((i) =>
        row([cell(i.product_id), cell(String(i.quantity)), cell(`${i.unit_price} ${order.currency}`)]),
      ),
    );
}

function renderTimeline(timeline) {
  document.querySelector('#timeline tbody').replaceChildren(
    ...timeline.transitions.map((t) => {
      const sent = t.sent.map((r) => `${r.type} → ${r.destination}${r.processed_at || r.published_at ? ' ✓' : ''}`);
      const element = row(
        [
          text('td', t.seq),
          text('td', utc(t.at)),
          text('td', t.event_type + (t.reason ? ` (${t.reason})` : '')),
          text('td', `${t.from_state ?? '∅'} → ${t.to_state}`),
          text('td', t.message_id, 'mono'),
          text('td', t.time_in_state_ms === null ? 'now' : duration(t.time_in_state_ms / 1000)),
          text('td', sent.join(', ')),
        ],
        { seq: String(t.seq), toState: t.to_state },
      );
      element.className = `step-${t.kind}`;
      return element;
    }),
  );
}

function renderWaiting(waiting) {
  document.querySelector('#waiting tbody').replaceChildren(
    ...waiting.map((w) => {
      const job = w.job;
      const next = isTimer(w) ? `timer due ${utc(w.due_at)}` : job?.next_attempt_at ? utc(job.next_attempt_at) : '';
      return row(
        [
          text('td', awaitedText(w)),
          text('td', w.destination.replace(/^queue:/, '')),
          text('td', job ? job.state : isTimer(w) ? 'timer' : 'no job yet'),
          text('td', job ? `${job.attempts_made} of ${job.attempts_max}` : ''),
          text('td', job?.failed_reason ?? w.last_error ?? '', 'error-text'),
          text('td', next),
          job ? cell(link(job.board_url, 'Bull Board', 'board-link')) : text('td', ''),
        ],
        { messageId: w.message_id },
      );
    }),
  );
  document.getElementById('waiting').hidden = waiting.length === 0;
  document.getElementById('waiting-none').hidden = waiting.length > 0;
}

function renderEvents(events) {
  document
    .querySelector('#events tbody')
    .replaceChildren(
      ...events.map((e) =>
        row(
          [
            text('td', e.type),
            text('td', e.topic),
            text('td', utc(e.created_at)),
            text('td', e.published ? `yes, ${utc(e.published_at)}` : e.parked_at ? 'parked' : 'not yet'),
            text('td', e.attempts),
            text('td', e.last_error ?? '', 'error-text'),
          ],
          { type: e.type, published: String(e.published) },
        ),
      ),
    );
}

const resolveControls = ['attention-note', 'resolve-retry', 'resolve-mark'];
let resolving = false;

/** The needs-attention panel, while the order is halted: what failed. A note being typed survives each poll. */
function renderAttention(order) {
  const attention = order.status === 'needs_attention' ? (order.attention ?? null) : null;
  document.getElementById('attention').hidden = attention === null;
  if (attention === null) return;
  const facts = [
    ['failing step', attention.step],
    ['command', attention.command],
    ['reason', attention.reason],
  ];
  document.getElementById('attention-facts').replaceChildren(...definitions(facts));
  for (const id of resolveControls) document.getElementById(id).disabled = isViewer() || resolving;
}

function renderOrder(timeline) {
  const { order } = timeline;
  document.getElementById('order').hidden = false;
  document.getElementById('order-title').textContent = order.id;
  const badge = document.getElementById('order-status');
  badge.textContent = `${order.status} (${order.state})`;
  badge.dataset.status = order.status;
  document.getElementById('order-summary').textContent =
    `${order.items.length} item(s), ${order.total} ${order.currency}, for ${order.user_id}`;
  document.getElementById('force-cancel').disabled = isViewer() || !order.cancellable;
  document.getElementById('redrive').disabled = isViewer() || timeline.dead_letters.length === 0;
  renderFacts(order);
  renderAttention(order);
  renderTimeline(timeline);
  renderWaiting(timeline.waiting_for);
  renderEvents(timeline.events);
  document
    .getElementById('dead-letters')
    .replaceChildren(
      ...timeline.dead_letters.map((d) =>
        text('li', `${d.queue} ${d.job_id}: ${d.error} after ${d.attempts} attempt(s)`),
      ),
    );
  document.getElementById('dead-letters-none').hidden = timeline.dead_letters.length > 0;
  document.querySelector('#order-audit tbody').replaceChildren(...timeline.audit.map((entry) => auditRow(entry)));
  document.getElementById('order-audit').hidden = timeline.audit.length === 0;
  document.getElementById('order-audit-none').hidden = timeline.audit.length > 0;
  highlightPath(timeline);
}

const loadOrder = async () =>
  renderOrder(await getJson(`/api/v1/admin/orders/${encodeURIComponent(orderId)}/timeline`));

async function refresh() {
  try {
    renderFleet(await getJson('/api/v1/admin/machine'));
    if (orderId) await loadOrder();
    showStatus(null);
  } catch (error) {
    showStatus(error);
  }
  setTimeout(refresh, pollIntervalMs);
}

async function act(path, question) {
  if (!confirm(question)) return;
  const result = document.getElementById('action-result');
  try {
    const body = await getJson(`/api/v1/admin/orders/${encodeURIComponent(orderId)}/${path}`, { method: 'POST' });
    result.textContent = path === 'cancel' ? 'cancel requested' : `${body.redriven} dead letter(s) redriven`;
    result.className = '';
  } catch (error) {
    result.textContent = error.message;
    result.className = 'error';
  }
}

const resolveQuestions = {
  retry: 'Retry the failed undo? Fix its cause first, or it fails again.',
  mark_compensated: 'Mark the failed undo as done by hand? The engine will not do it; compensation goes on.',
};

/** POST .../resolve with the note; the API's refusal (a missing note, an order no longer halted) is shown. */
async function resolve(action) {
  if (!confirm(resolveQuestions[action])) return;
  const result = document.getElementById('action-result');
  const note = document.getElementById('attention-note');
  resolving = true;
  for (const id of resolveControls) document.getElementById(id).disabled = true;
  try {
    const body = await getJson(`/api/v1/admin/orders/${encodeURIComponent(orderId)}/resolve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ action, note: note.value }),
    });
    note.value = '';
    result.textContent = `resolved (${body.action}): now ${body.status} (${body.state})`;
    result.className = '';
  } catch (error) {
    result.textContent = `resolve refused: ${error.message}`;
    result.className = 'error';
  }
  resolving = false;
  try {
    await loadOrder();
  } catch (error) {
    showStatus(error);
  }
}

for (const id of ['resolve-retry', 'resolve-mark']) {
  const button = document.getElementById(id);
  button.addEventListener('click', () => resolve(button.dataset.action));
}
document
  .getElementById('force-cancel')
  .addEventListener('click', () => act('cancel', 'Force-cancel this order? Compensation will undo every step.'));
document
  .getElementById('redrive')
  .addEventListener('click', () => act('redrive', "Redrive this order's dead letters?"));
if (orderId) document.getElementById('search-q').value = orderId;
for (const state of svg.querySelectorAll('[data-state]')) {
  state.addEventListener('click', (event) => {
    event.stopPropagation();
    window.location.href = `/admin/orders?state=${encodeURIComponent(state.dataset.state)}`;
  });
}
void refresh();

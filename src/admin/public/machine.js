// The visualizer's script: puts live counts on the machine's SVG, lists stuck orders, and for
// one order (?order=<id>) highlights its path and shows its timeline. Polls every 2 s; a 401
// sends the browser back to the login form. Plain browser JavaScript, served locally.
/* global document, window, fetch, URLSearchParams, setTimeout, confirm, CSS */

const pollIntervalMs = 2000;
const orderId = new URLSearchParams(window.location.search).get('order');
const svg = document.getElementById('machine-svg');

function text(tag, content, className) {
  const element = document.createElement(tag);
  if (content !== undefined && content !== null) element.textContent = String(content);
  if (className) element.className = className;
  return element;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

async function getJson(url, options) {
  const response = await fetch(url, { credentials: 'same-origin', ...options });
  if (response.status === 401) {
    window.location.href = `/admin/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`;
    throw new Error('not logged in');
  }
  const body = await response.json();
  if (!response.ok) throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
  return body;
}

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
      const link = text('a', s.id);
      link.href = `/admin/machine?order=${encodeURIComponent(s.id)}`;
      const cell = document.createElement('td');
      cell.append(link);
      const last = s.last_transition;
      row.append(
        cell,
        text('td', s.state),
        text('td', duration(s.age_seconds)),
        text('td', last ? `#${last.seq} ${last.event_type} (${last.message_id}) at ${last.at}` : ''),
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

function renderOrder(timeline) {
  const { order } = timeline;
  document.getElementById('order').hidden = false;
  document.getElementById('order-title').textContent = order.id;
  const badge = document.getElementById('order-status');
  badge.textContent = `${order.status} (${order.state})`;
  badge.dataset.status = order.status;
  document.getElementById('order-summary').textContent =
    `created ${order.created_at}` + (order.failure_reason ? `, reason ${order.failure_reason}` : '');
  document.getElementById('force-cancel').disabled = !order.cancellable;
  document.getElementById('redrive').disabled = timeline.dead_letters.length === 0;
  const rows = document.querySelector('#timeline tbody');
  rows.replaceChildren(
    ...timeline.transitions.map((t) => {
      const row = document.createElement('tr');
      row.className = `step-${t.kind}`;
      row.dataset.seq = String(t.seq);
      row.dataset.toState = t.to_state;
      row.append(
        text('td', t.seq),
        text('td', t.at),
        text('td', t.event_type + (t.reason ? ` (${t.reason})` : '')),
        text('td', `${t.from_state ?? '∅'} → ${t.to_state}`),
        text('td', t.message_id, 'mono'),
        text('td', t.time_in_state_ms === null ? 'now' : duration(t.time_in_state_ms / 1000)),
        text(
          'td',
          t.sent.map((r) => `${r.type} → ${r.destination}${r.processed_at || r.dispatched_at ? ' ✓' : ''}`).join(', '),
        ),
      );
      return row;
    }),
  );
  document
    .getElementById('waiting')
    .replaceChildren(
      ...timeline.waiting_for.map((w) => text('li', [awaitedText(w), attemptsText(w)].filter(Boolean).join('; '))),
    );
  document
    .getElementById('dead-letters')
    .replaceChildren(
      ...timeline.dead_letters.map((d) =>
        text('li', `${d.queue} ${d.job_id}: ${d.error} after ${d.attempts} attempt(s)`),
      ),
    );
  highlightPath(timeline);
}

async function refresh() {
  const status = document.getElementById('refresh-status');
  try {
    renderFleet(await getJson('/api/v1/admin/machine'));
    if (orderId) renderOrder(await getJson(`/api/v1/admin/orders/${encodeURIComponent(orderId)}/timeline`));
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
    status.className = '';
  } catch (error) {
    status.textContent = `refresh failed: ${error.message}`;
    status.className = 'error';
  }
  setTimeout(refresh, pollIntervalMs);
}

async function act(path, question) {
  if (!confirm(question)) return;
  const result = document.getElementById('action-result');
  try {
    const body = await getJson(`/api/v1/admin/orders/${encodeURIComponent(orderId)}/${path}`, { method: 'POST' });
    result.textContent = path === 'cancel' ? 'cancel requested' : `${body.redriven} dead letter(s) redriven`;
  } catch (error) {
    result.textContent = error.message;
  }
}

document
  .getElementById('force-cancel')
  .addEventListener('click', () => act('cancel', 'Force-cancel this order? Compensation will undo every step.'));
document
  .getElementById('redrive')
  .addEventListener('click', () => act('redrive', "Redrive this order's dead letters?"));
if (orderId) document.getElementById('order-id').value = orderId;
for (const state of svg.querySelectorAll('[data-state]'))
  state.addEventListener('click', () => state.classList.toggle('selected'));
void refresh();

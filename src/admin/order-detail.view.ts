// One order as the operator sees it: the order itself (items, totals, coupon, user, address,
// correlation id, times), its timeline (each transition with its cause and the outbox rows it
// wrote), the messages it still waits for with their jobs, its Kafka events, its dead letters and
// the operator actions taken on it. Composed from the orders, messaging and audit modules' reads.
import { listAudit, type AuditRow } from '../audit/audit.sql.ts';
import { orderView } from '../api/order.view.ts';
import { formatAmount } from '../domain/money.ts';
import { readOrder, type OrderRow } from '../orders/order.sql.ts';
import { restoreStored } from '../orders/order.step.ts';
import { deployedOrderMachine } from '../../machines/migrations/index.ts';
import type { MachineGraph } from './machine.graph.ts';
import { deadLettersOfOrder, isAwaited, outboxOfOrder, type OutboxFact } from '../messaging/messaging.queries.ts';
import { orderHistory, type TransitionRow as HistoryRow } from '../orders/order.queries.ts';
import type { OrderEvent, TimelineResponse, TimelineStep } from './admin.schemas.ts';
import type { AuditEntryView } from './console.schemas.ts';
import { boardUrlOf } from './job.facts.ts';
import { awaited, iso, type ViewDeps } from './machine.view.ts';

const auditListedMax = 50;

/** An order's transition as the orders module reads it; events are the machine's JSON objects. */
type TransitionRow = HistoryRow & { event: Record<string, unknown> };

function outboxFact(row: OutboxFact) {
  const { id: _id, ...rest } = row;
  return {
    ...rest,
    created_at: row.created_at.toISOString(),
    due_at: row.due_at.toISOString(),
    published_at: iso(row.published_at),
    swept_at: iso(row.swept_at),
    processed_at: iso(row.processed_at),
    parked_at: iso(row.parked_at),
  };
}

function kindOf(t: TransitionRow, graph: MachineGraph): TimelineStep['kind'] {
  const state = graph.states.find((s) => s.id === t.to_state);
  if (state?.kind === 'final') return 'final';
  const failing = t.to_state.startsWith('compensating') && !(t.from_state ?? '').startsWith('compensating');
  if (failing) return 'failure';
  return state?.compensation ? 'compensation' : 'progress';
}

/** Each transition with the time spent in its state, its cause and the outbox rows it wrote. */
function steps(
  transitions: TransitionRow[],
  outbox: OutboxFact[],
  graph: MachineGraph,
  final: boolean,
): TimelineStep[] {
  const byMessage = new Map(outbox.map((r) => [r.message_id, r]));
  return transitions.map((t, index) => {
    const next = transitions[index + 1];
    // Rows written in the step's transaction share its now(); a group-committed batch that
    // stepped one order twice puts them on the later step.
    const sent = outbox.filter(
      (r) =>
        r.created_at.getTime() === t.created_at.getTime() &&
        !(next && next.created_at.getTime() === t.created_at.getTime()),
    );
    const spentMs = next ? next.created_at.getTime() - t.created_at.getTime() : final ? 0 : null;
    const cause = byMessage.get(t.message_id);
    const reason = typeof t.event.reason === 'string' ? t.event.reason : null;
    return {
      seq: t.seq,
      from_state: t.from_state,
      to_state: t.to_state,
      event_type: t.event_type,
      message_id: t.message_id,
      at: t.created_at.toISOString(),
      time_in_state_ms: spentMs,
      kind: kindOf(t, graph),
      reason,
      cause: cause === undefined ? null : outboxFact(cause),
      sent: sent.map(outboxFact),
    };
  });
}

/** The order's Kafka-bound outbox rows: published once the relay marked them (published_at). */
function eventsOf(outbox: OutboxFact[]): OrderEvent[] {
  return outbox
    .filter((r) => r.destination.startsWith('kafka:'))
    .map((r) => ({
      message_id: r.message_id,
      type: r.type,
      topic: r.destination.slice('kafka:'.length),
      created_at: r.created_at.toISOString(),
      published: r.published_at !== null,
      published_at: iso(r.published_at),
      parked_at: iso(r.parked_at),
      attempts: r.attempts,
      last_error: r.last_error,
    }));
}

export function auditView(row: AuditRow): AuditEntryView {
  return { ...row, at: row.at.toISOString() };
}

/** The order as the REST API shows it, with unit prices formatted, its correlation id, and whether it takes a cancel. */
function orderFacts(order: OrderRow): TimelineResponse['order'] {
  const { items, shipping_address: shippingAddress, ...view } = orderView(order);
  const snapshot = restoreStored(deployedOrderMachine, order.snapshot, order.machine_version);
  return {
    ...view,
    items: items.map((i) => ({ ...i, unit_price: formatAmount(i.unit_price, order.currency) })),
    shipping_address: (shippingAddress ?? {}) as Record<string, unknown>,
    correlation_id: order.correlation_id,
    cancellable: snapshot.can({ type: 'order.cancel' }),
    attention: snapshot.context.attention ?? null,
  };
}

export async function orderDetailView(deps: ViewDeps, orderId: string): Promise<TimelineResponse | null> {
  const order = await readOrder(deps.pool, orderId);
  if (order === undefined) return null;
  const [transitions, outbox, deadLetters, audit] = await Promise.all([
    orderHistory(deps.pool, orderId) as Promise<TransitionRow[]>,
    outboxOfOrder(deps.pool, orderId),
    deadLettersOfOrder(deps.pool, orderId),
    listAudit(deps.pool, { orderId, limit: auditListedMax }),
  ]);
  const final = order.finalized_at !== null && order.state !== 'confirmed';
  const open = outbox.filter(isAwaited);
  return {
    order: orderFacts(order),
    path: transitions.map((t) => t.to_state),
    transitions: steps(transitions, outbox, deps.graph, final),
    waiting_for: await awaited(deps, open),
    dead_letters: deadLetters.map((d) => ({
      ...d,
      created_at: d.created_at.toISOString(),
      board_url: boardUrlOf(d.queue, d.job_id),
    })),
    events: eventsOf(outbox),
    audit: audit.entries.map(auditView),
  };
}

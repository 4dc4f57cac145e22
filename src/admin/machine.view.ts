// Builds the visualizer's JSON from the machine graph and PostgreSQL: the fleet (every state
// with its count and oldest age, the stuck orders with what they wait for) and one order's
// timeline. BullMQ is asked only about the few jobs an order waits for (jobId = message id).
import type { Queue } from 'bullmq';
import type { Pool } from '../platform/db.ts';
import { readOrder } from '../orders/order.sql.ts';
import { restore } from '../orders/order.step.ts';
import type { MachineGraph } from './machine.graph.ts';
import {
  awaitedMessages,
  deadLettersOf,
  inFlightByState,
  outboxOf,
  stuckOrders,
  transitionsOf,
  type OutboxFact,
  type TransitionRow,
} from './machine.sql.ts';
import type { AwaitedMessage, MachineResponse, TimelineResponse, TimelineStep } from './admin.schemas.ts';

export interface ViewDeps {
  pool: Pool;
  queues: ReadonlyMap<string, Queue>;
  graph: MachineGraph;
  stuckAfterMs: number;
  stuckListedMax: number;
  /** Final-state counts from the periodic check (a full count per poll would not be bounded). */
  finalCounts(): { counts: ReadonlyMap<string, number>; at: Date | null };
}

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

async function jobOf(queues: ReadonlyMap<string, Queue>, row: OutboxFact): Promise<AwaitedMessage['job']> {
  const queueName = row.destination.slice('queue:'.length);
  const queue = queues.get(queueName);
  const job = queue === undefined ? undefined : await queue.getJob(row.message_id);
  if (job === undefined || job === null) return null;
  return {
    id: String(job.id),
    queue: queueName,
    state: await job.getState(),
    attempts_made: job.attemptsMade,
    failed_reason: job.failedReason ?? null,
  };
}

async function awaited(queues: ReadonlyMap<string, Queue>, rows: OutboxFact[]): Promise<AwaitedMessage[]> {
  return Promise.all(
    rows.map(async (row) => ({
      message_id: row.message_id,
      type: row.type,
      destination: row.destination,
      due_at: row.due_at.toISOString(),
      job: await jobOf(queues, row),
    })),
  );
}

export async function fleetView(deps: ViewDeps): Promise<MachineResponse> {
  const [inFlight, stuck] = await Promise.all([
    inFlightByState(deps.pool),
    stuckOrders(deps.pool, deps.stuckAfterMs, deps.stuckListedMax),
  ]);
  const waiting = await awaitedMessages(
    deps.pool,
    stuck.map((s) => s.id),
  );
  const live = new Map(inFlight.map((s) => [s.state, s]));
  const finals = deps.finalCounts();
  const states = deps.graph.states.map((s) => {
    const row = live.get(s.id);
    const final = finals.counts.get(s.id);
    return { state: s.id, count: row?.count ?? final ?? 0, oldest_age_seconds: row?.oldest_age_seconds ?? null };
  });
  const { graph } = deps;
  return {
    machine: {
      id: graph.machineId,
      states: graph.states.map(({ children: _children, ...state }) => state),
      transitions: graph.transitions,
    },
    fleet: {
      generated_at: new Date().toISOString(),
      stuck_after_ms: deps.stuckAfterMs,
      states,
      final_counts_at: iso(finals.at),
      stuck: await Promise.all(
        stuck.map(async (s) => ({
          id: s.id,
          status: s.status,
          state: s.state,
          since: s.updated_at.toISOString(),
          age_seconds: s.age_seconds,
          last_transition:
            s.last_seq === null
              ? null
              : {
                  seq: s.last_seq,
                  event_type: s.last_event_type ?? '',
                  message_id: s.last_message_id ?? '',
                  at: (s.last_at ?? s.updated_at).toISOString(),
                },
          waiting_for: await awaited(deps.queues, waiting.get(s.id) ?? []),
        })),
      ),
    },
  };
}

function outboxFact(row: OutboxFact) {
  const { id: _id, ...rest } = row;
  return {
    ...rest,
    created_at: row.created_at.toISOString(),
    due_at: row.due_at.toISOString(),
    dispatched_at: iso(row.dispatched_at),
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

export async function timelineView(deps: ViewDeps, orderId: string): Promise<TimelineResponse | null> {
  const order = await readOrder(deps.pool, orderId);
  if (order === undefined) return null;
  const [transitions, outbox, deadLetters] = await Promise.all([
    transitionsOf(deps.pool, orderId),
    outboxOf(deps.pool, orderId),
    deadLettersOf(deps.pool, orderId),
  ]);
  const final = order.finalized_at !== null && order.state !== 'confirmed';
  const open = outbox.filter(
    (r) => r.destination.startsWith('queue:') && r.processed_at === null && r.parked_at === null,
  );
  return {
    order: {
      id: order.id,
      status: order.status,
      state: order.state,
      failure_reason: order.failure_reason,
      created_at: order.created_at.toISOString(),
      updated_at: order.updated_at.toISOString(),
      finalized_at: iso(order.finalized_at),
      cancellable: restore(order.snapshot).can({ type: 'order.cancel' }),
    },
    path: transitions.map((t) => t.to_state),
    transitions: steps(transitions, outbox, deps.graph, final),
    waiting_for: await awaited(deps.queues, open),
    dead_letters: deadLetters.map((d) => ({ ...d, created_at: d.created_at.toISOString() })),
  };
}

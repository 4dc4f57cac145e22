// Builds the visualizer's fleet JSON from the machine graph and PostgreSQL: every state with its
// count and oldest age, and the stuck orders with what they wait for. BullMQ is asked only about
// the few jobs a stuck order waits for (jobId = message id). One order's view: order-detail.view.ts.
import type { Queue } from 'bullmq';
import type { RedisClient } from '../platform/redis.ts';
import type { Pool } from '../platform/db.ts';
import { inFlightByState, stuckOrders } from '../orders/order.queries.ts';
import type { MachineGraph } from './machine.graph.ts';
import { awaitedMessages, type OutboxFact } from '../messaging/messaging.queries.ts';
import type { AwaitedMessage, MachineResponse } from './admin.schemas.ts';
import { jobFact } from './job.facts.ts';

export interface ViewDeps {
  pool: Pool;
  /** BullMQ's Redis, for a delayed job's next attempt. */
  redis: RedisClient;
  queues: ReadonlyMap<string, Queue>;
  graph: MachineGraph;
  stuckAfterMs: number;
  stuckListedMax: number;
  /** Final-state counts from the periodic check (a full count per poll would not be bounded). */
  finalCounts(): { counts: ReadonlyMap<string, number>; at: Date | null };
}

export const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

/** The queue messages given, each with its job as BullMQ has it (null: no job, the sweeper hands it over). */
export async function awaited(deps: ViewDeps, rows: OutboxFact[]): Promise<AwaitedMessage[]> {
  return Promise.all(
    rows.map(async (row) => ({
      message_id: row.message_id,
      type: row.type,
      destination: row.destination,
      due_at: row.due_at.toISOString(),
      last_error: row.last_error,
      job: await jobFact(deps.redis, deps.queues, row.destination.slice('queue:'.length), row.message_id),
    })),
  );
}

/**
 * Every state of the machine with its count: in-flight states live, final states from the periodic
 * check. Only a final state takes the periodic count of the status of its name: `pending` is both a
 * status and a state, and an order in `charging` has status `pending` too.
 */
export function stateCounts(
  graph: MachineGraph,
  live: ReadonlyMap<string, { count: number; oldest_age_seconds: number | null }>,
  finalCounts: ReadonlyMap<string, number>,
): MachineResponse['fleet']['states'] {
  return graph.states.map((s) => {
    const row = live.get(s.id);
    const final = s.kind === 'final' ? finalCounts.get(s.id) : undefined;
    return { state: s.id, count: row?.count ?? final ?? 0, oldest_age_seconds: row?.oldest_age_seconds ?? null };
  });
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
  const finals = deps.finalCounts();
  const states = stateCounts(deps.graph, new Map(inFlight.map((s) => [s.state, s])), finals.counts);
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
          waiting_for: await awaited(deps, waiting.get(s.id) ?? []),
        })),
      ),
    },
  };
}

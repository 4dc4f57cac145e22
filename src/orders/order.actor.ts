// The order actor's transaction step, the one path by which an order moves after it is placed.
// Whoever holds a transaction with events for orders calls it: the `orders` queue's worker (cancels,
// timers, redelivered answers) and every module worker whose effect answers an order, in the
// transaction of that effect. It locks the orders in id order, claims their inbox rows, steps the
// pure machine for each event in arrival order, and saves snapshots, transitions, intents and
// withdrawn timers in one statement. Dispatch and listeners follow the caller's commit.
import type { Client } from '../platform/db.ts';
import type { LocalReceiver, Received } from '../messaging/handle-once.ts';
import { PermanentError } from '../messaging/module-worker.ts';
import type { Message, OutgoingMessage } from '../../queues/message.ts';
import type { OrderEvent } from '../../machines/order.types.ts';
import { isFinalStatus, stateName, statusOf } from '../../machines/order.status.ts';
import { deployedOrderMachine, migrateSnapshot, type MachineVersion } from '../../machines/migrations/index.ts';
import type { PersistedSnapshot } from '../../machines/migrations/index.ts';
import { lockAndClaim, saveBatch, type LockedOrder, type SavedStep, type TransitionRow } from './order.sql.ts';
import { stepperFor, type OrderSnapshot, type OrderStepper } from './order.step.ts';

/** The consumer name of the order actor's inbox rows. */
export const orderConsumer = 'orders';

export interface StepInfo {
  orderId: string;
  status: string;
  from: string;
  to: string;
  createdAt: Date;
  /** The failure reason the step left on the order (metrics label the final ones with it). */
  reason?: string | null;
}

export interface OrderActorOptions {
  topic: string;
  /** The machine definition that steps the orders: the deployed one unless a test gives its own. */
  machine?: MachineVersion;
  /** Called after the caller's commit, once per committed step: metrics listen here. */
  onStep?: (step: StepInfo) => void;
}

/** An order as the batch steps it: its snapshot in memory, and what the batch will save. */
interface Actor {
  id: string;
  snapshot: OrderSnapshot;
  version: number;
  storedVersion: number;
  storedStatus: string;
  createdAt: Date;
  /** The machine version of the stored snapshot when it was migrated on restore, until a step records it. */
  migratedFrom: number | null;
}

interface BatchSteps {
  transitions: TransitionRow[];
  messages: OutgoingMessage[];
  withdrawn: string[];
  steps: StepInfo[];
}

/** An event for an order the database does not hold: a sender's bug, never retried. */
export class UnknownOrderError extends PermanentError {
  override name = 'UnknownOrderError';
}

/**
 * Applies events to their orders inside the caller's transaction. An event seen before (its inbox
 * row exists) changes nothing; one the current state does not take (a late answer, a timer after
 * the fact) is recorded in the inbox and otherwise changes nothing. Events must come ordered by
 * order id (messaging's firstOfEach), so row locks are taken in one order by every caller.
 */
export async function applyOrderEvents(
  client: Client,
  events: Message[],
  topic: string,
  definition: MachineVersion = deployedOrderMachine,
): Promise<Received<StepInfo>> {
  if (events.length === 0) return { rows: [], notices: [] };
  const orderIds = [...new Set(events.map((e) => e.orderId))];
  const { orders, claimed } = await lockAndClaim(
    client,
    orderConsumer,
    orderIds,
    events.map((e) => e.messageId),
  );
  const unknown = events.find((e) => !orders.has(e.orderId));
  if (unknown !== undefined) {
    throw new UnknownOrderError(`event ${unknown.type} for unknown order ${unknown.orderId}`);
  }
  const stepper = stepperFor(definition.machine);
  const actors = new Map<string, Actor>();
  for (const [id, row] of orders) actors.set(id, restoredActor(id, row, definition, stepper));
  const batch = stepAll(
    events.filter((e) => claimed.has(e.messageId)),
    actors,
    { topic, stepper, version: definition.version },
  );
  const saved = savedStepsOf(actors, stepper, definition.version);
  const rows = await saveBatch(client, {
    saved,
    transitions: batch.transitions,
    messages: withoutWithdrawn(batch.messages, batch.withdrawn),
    withdrawn: batch.withdrawn,
    told: saved.filter((s) => s.status !== actors.get(s.orderId)?.storedStatus).map((s) => s.orderId),
  });
  return { rows, notices: batch.steps };
}

/** The orders module as a receiver of answers in the sender's transaction. */
export function orderReceiver(options: OrderActorOptions): LocalReceiver<StepInfo> {
  return {
    consumer: orderConsumer,
    receive: (client, events) => applyOrderEvents(client, events, options.topic, options.machine),
    committed: (steps) => {
      for (const s of steps) options.onStep?.(s);
    },
  };
}

/**
 * An order as stored, restored into the definition. A snapshot of the definition's version is
 * restored as it is; an older one goes through the migrations first (pure, in memory: it is saved
 * only if a step changes it, and the transition that does records the migration). A snapshot with
 * no path into the definition fails the batch: the check at start keeps such a deploy from running.
 */
function restoredActor(id: string, row: LockedOrder, definition: MachineVersion, stepper: OrderStepper): Actor {
  const current = row.machine_version === definition.version;
  const persisted = current
    ? row.snapshot
    : migrateSnapshot(definition, row.snapshot as PersistedSnapshot, row.machine_version);
  return {
    id,
    snapshot: stepper.restore(persisted),
    version: row.version,
    storedVersion: row.version,
    storedStatus: row.status,
    createdAt: row.created_at,
    migratedFrom: current ? null : row.machine_version,
  };
}

interface Stepping {
  topic: string;
  stepper: OrderStepper;
  version: number;
}

/** Steps each event on its order's snapshot as the batch has left it. */
function stepAll(events: Message[], actors: Map<string, Actor>, { topic, stepper, version }: Stepping): BatchSteps {
  const batch: BatchSteps = { transitions: [], messages: [], withdrawn: [], steps: [] };
  const occurredAt = new Date();
  for (const message of events) {
    const actor = actors.get(message.orderId);
    if (actor === undefined) throw new Error(`order ${message.orderId} was not locked`);
    const event = { ...message.payload, type: message.type } as OrderEvent;
    const result = stepper.step(actor.snapshot, event, { correlationId: message.correlationId, occurredAt, topic });
    if (!result.changed) continue;
    actor.snapshot = result.snapshot;
    actor.version += 1;
    batch.transitions.push({
      orderId: actor.id,
      seq: actor.version,
      from: result.from,
      to: result.to,
      eventType: message.type,
      messageId: message.messageId,
      event,
      ...(actor.migratedFrom === null ? {} : { migration: { from: actor.migratedFrom, to: version } }),
    });
    actor.migratedFrom = null;
    batch.messages.push(...result.messages);
    batch.withdrawn.push(...result.withdrawn);
    batch.steps.push({
      orderId: actor.id,
      status: result.status,
      from: result.from,
      to: result.to,
      createdAt: actor.createdAt,
      reason: result.snapshot.context.failureReason,
    });
  }
  return batch;
}

/** A timer scheduled and withdrawn within one batch is never written: it would never be delivered. */
function withoutWithdrawn(messages: OutgoingMessage[], withdrawn: string[]): OutgoingMessage[] {
  if (withdrawn.length === 0) return messages;
  const gone = new Set(withdrawn);
  return messages.filter((m) => !(m.delayMs !== undefined && m.delayMs > 0 && gone.has(m.messageId)));
}

/** The orders whose snapshot moved, as they stand at the end of the batch. */
function savedStepsOf(actors: Map<string, Actor>, stepper: OrderStepper, machineVersion: number): SavedStep[] {
  return [...actors.values()]
    .filter((actor) => actor.version !== actor.storedVersion)
    .map((actor) => {
      const { context } = actor.snapshot;
      const state = stateName(actor.snapshot.value);
      const status = statusOf(state, context);
      return {
        orderId: actor.id,
        expectedVersion: actor.storedVersion,
        version: actor.version,
        machineVersion,
        status,
        state,
        snapshot: stepper.persist(actor.snapshot),
        discount: context.discount,
        total: context.total,
        failureReason: context.failureReason,
        final: isFinalStatus(status),
      };
    });
}

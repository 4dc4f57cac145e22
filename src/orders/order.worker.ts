// The order actor's mailbox handler (queue "orders"). A batch of events is one transaction of
// set-based statements: lock every order of the batch in id order, claim the inbox rows, step the
// pure machine for each event in arrival order (an order's events see each other's results), save
// every changed snapshot at its new version with its transitions in one statement, write every
// intent's outbox row in one statement. Dispatch follows the commit.
import { withTransaction } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import { firstOfEach, type HandleOnceDeps, type ModuleRuntime, type Work } from '../messaging/handle-once.ts';
import { claimInboxBatch, insertOutbox, withdrawScheduled } from '../messaging/outbox.sql.ts';
import { PermanentError, handlerOf, type MessageHandler } from '../messaging/module-worker.ts';
import type { OutgoingMessage } from '../../queues/message.ts';
import type { OrderEvent } from '../../machines/order.types.ts';
import { isFinalStatus, stateName, statusOf } from '../../machines/order.status.ts';
import { lockOrders, saveSteps, type SavedStep, type TransitionRow } from './order.sql.ts';
import { persist, restore, step, type OrderSnapshot } from './order.step.ts';

export interface OrderWorkerDeps extends HandleOnceDeps {
  logger: Logger;
  topic: string;
  /** Called after each committed step: metrics and waiters listen here. */
  onStep?: (event: StepInfo) => void;
}

export interface StepInfo {
  orderId: string;
  status: string;
  from: string;
  to: string;
  createdAt: Date;
  /** The failure reason the step left on the order (metrics label the final ones with it). */
  reason?: string | null;
}

export const orderConsumer = 'orders';

/** One order as the batch steps it: its snapshot in memory, and what the batch will save. */
interface Actor {
  id: string;
  snapshot: OrderSnapshot;
  version: number;
  storedVersion: number;
  createdAt: Date;
}

interface BatchSteps {
  transitions: TransitionRow[];
  messages: OutgoingMessage[];
  withdrawn: string[];
  steps: StepInfo[];
}

export function createOrderRuntime(deps: OrderWorkerDeps): ModuleRuntime {
  return {
    consumer: orderConsumer,
    prepare: async (message) => ({ message, effect: async () => [] }),
    async commit(works) {
      const unique = firstOfEach(works);
      const { rows, steps } = await withTransaction(
        deps.pool,
        async (client) => {
          const locked = await lockOrders(client, [...new Set(unique.map((w) => w.message.orderId))]);
          const unknown = unique.find((w) => !locked.has(w.message.orderId));
          if (unknown !== undefined) {
            throw new PermanentError(`event ${unknown.message.type} for unknown order ${unknown.message.orderId}`);
          }
          const claimed = await claimInboxBatch(
            client,
            orderConsumer,
            unique.map((w) => w.message.messageId),
          );
          const actors = new Map<string, Actor>();
          for (const [id, row] of locked) {
            const snapshot = restore(row.snapshot);
            actors.set(id, {
              id,
              snapshot,
              version: row.version,
              storedVersion: row.version,
              createdAt: row.created_at,
            });
          }
          const batch = stepAll(
            unique.filter((w) => claimed.has(w.message.messageId)),
            actors,
            deps.topic,
          );
          await saveSteps(client, savedStepsOf(actors), batch.transitions);
          const inserted = await insertOutbox(client, batch.messages);
          await withdrawScheduled(client, batch.withdrawn);
          return { rows: inserted, steps: batch.steps };
        },
        deps.transaction,
      );
      await deps.dispatcher.dispatch(rows);
      for (const s of steps) deps.onStep?.(s);
    },
  };
}

export function createOrderHandler(deps: OrderWorkerDeps): MessageHandler {
  return handlerOf(createOrderRuntime(deps));
}

/**
 * Steps each event on its order's snapshot as the batch has left it. An event the current state
 * does not take (a late answer, a timer after the fact) is recorded in the inbox and otherwise
 * changes nothing.
 */
function stepAll(works: Work[], actors: Map<string, Actor>, topic: string): BatchSteps {
  const batch: BatchSteps = { transitions: [], messages: [], withdrawn: [], steps: [] };
  const occurredAt = new Date();
  for (const { message } of works) {
    const actor = actors.get(message.orderId);
    if (actor === undefined) throw new Error(`order ${message.orderId} was not locked`);
    const event = { ...message.payload, type: message.type } as OrderEvent;
    const result = step(actor.snapshot, event, { correlationId: message.correlationId, occurredAt, topic });
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
    });
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

/** The orders whose snapshot moved, as they stand at the end of the batch. */
function savedStepsOf(actors: Map<string, Actor>): SavedStep[] {
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
        status,
        state,
        snapshot: persist(actor.snapshot),
        discount: context.discount,
        total: context.total,
        failureReason: context.failureReason,
        final: isFinalStatus(status),
      };
    });
}

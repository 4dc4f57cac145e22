// The order actor's mailbox handler (queue "orders"). One event, one transaction: lock the row,
// drop a duplicate through the inbox, step the pure machine, save the snapshot at version + 1,
// append the transition, write one outbox row per intent. Dispatch follows the commit.
import { withTransaction, type Client } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import type { HandleOnceDeps } from '../outbox/handle-once.ts';
import { claimInbox, insertOutbox, type OutboxRow } from '../outbox/outbox.sql.ts';
import { PermanentError, type MessageHandler } from '../outbox/module-worker.ts';
import type { Message } from '../../queues/message.ts';
import type { OrderEvent } from '../../machines/order.types.ts';
import { isFinalStatus } from '../../machines/order.status.ts';
import { insertTransition, lockOrder, saveSnapshot } from './order.sql.ts';
import { persist, restore, step } from './order.step.ts';

export interface OrderWorkerDeps extends HandleOnceDeps {
  logger: Logger;
  topic: string;
  /** Called after each committed step: metrics and waiters listen here. */
  onStep?: (event: { orderId: string; status: string; from: string; to: string; createdAt: Date }) => void;
}

export const orderConsumer = 'orders';

export function createOrderHandler(deps: OrderWorkerDeps): MessageHandler {
  return async (message) => {
    const applied = await withTransaction(
      deps.pool,
      (client) => applyEvent(client, message, deps.topic),
      deps.transaction,
    );
    if (applied === null) return;
    await deps.dispatcher.dispatch(applied.rows);
    if (applied.step !== null) deps.onStep?.(applied.step);
  };
}

type StepInfo = Parameters<NonNullable<OrderWorkerDeps['onStep']>>[0];

async function applyEvent(
  client: Client,
  message: Message,
  topic: string,
): Promise<{ rows: OutboxRow[]; step: StepInfo | null } | null> {
  const order = await lockOrder(client, message.orderId);
  if (order === undefined) throw new PermanentError(`event ${message.type} for unknown order ${message.orderId}`);
  if (!(await claimInbox(client, orderConsumer, message.messageId))) return null;
  const event = { ...message.payload, type: message.type } as OrderEvent;
  const now = new Date();
  const result = step(restore(order.snapshot), event, { correlationId: message.correlationId, occurredAt: now, topic });
  // An event the current state does not take (a late answer, a timer after the fact) is recorded
  // in the inbox and otherwise changes nothing.
  if (!result.changed) return { rows: [], step: null };
  const context = result.snapshot.context;
  const version = order.version + 1;
  await saveSnapshot(client, {
    orderId: order.id,
    expectedVersion: order.version,
    status: result.status,
    state: result.to,
    snapshot: persist(result.snapshot),
    discount: context.discount,
    total: context.total,
    failureReason: context.failureReason,
    final: isFinalStatus(result.status),
  });
  await insertTransition(client, {
    orderId: order.id,
    seq: version,
    from: result.from,
    to: result.to,
    eventType: message.type,
    messageId: message.messageId,
    event,
  });
  const rows = await insertOutbox(client, result.messages);
  return {
    rows,
    step: { orderId: order.id, status: result.status, from: result.from, to: result.to, createdAt: order.created_at },
  };
}

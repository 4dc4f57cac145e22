// The ledger worker: posts an order's payment and reverses it. Each command runs once (inbox) and
// is idempotent per order; a reverse that arrives before its post leaves a tombstone, so the late
// post is a no-op (no hanging posting).
import { randomUUID } from 'node:crypto';
import { handleBatch, type Effect, type HandleOnceDeps, type ModuleRuntime } from '../messaging/handle-once.ts';
import { PermanentError, handlerOf, type MessageHandler } from '../messaging/module-worker.ts';
import type { Client } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import { answer, type Message, type OutgoingMessage } from '../../queues/message.ts';
import { orderPaymentEntries, reversalEntries, type Entry, type OrderPayment } from '../domain/posting.ts';
import { findEntries, findOrderTransactions, insertTransaction, lockOrderLedger } from './ledger.sql.ts';

export interface LedgerDeps extends HandleOnceDeps {
  logger: Logger;
}

const consumer = 'ledger';

interface LedgerPostPayload {
  user_id: string;
  subtotal: string;
  discount: string;
  total: string;
  currency: string;
}

export function createLedgerRuntime(deps: LedgerDeps): ModuleRuntime {
  return {
    consumer,
    prepare: async (message) => ({ message, effect: effectOf(message) }),
    commit: async (works) => void (await handleBatch(deps, consumer, works)),
  };
}

export function createLedgerHandler(deps: LedgerDeps): MessageHandler {
  return handlerOf(createLedgerRuntime(deps));
}

function effectOf(message: Message): Effect {
  switch (message.type) {
    case 'ledger.post':
      return postPayment(message, paymentEntriesOf(message.payload as unknown as LedgerPostPayload));
    case 'ledger.reverse':
      return (client) => reversePayment(client, message);
    default:
      throw new PermanentError(`ledger handles no message type ${message.type}`);
  }
}

/** Amounts that do not add up are a bug in the sender: retrying cannot fix them. */
function paymentEntriesOf(payload: LedgerPostPayload): Entry[] {
  const payment: OrderPayment = {
    userId: payload.user_id,
    subtotal: payload.subtotal,
    discount: payload.discount,
    total: payload.total,
    currency: payload.currency,
  };
  try {
    return orderPaymentEntries(payment);
  } catch (error) {
    throw new PermanentError(`ledger.post refused: ${(error as Error).message}`);
  }
}

function postPayment(message: Message, entries: Entry[]): Effect {
  return async (client) => {
    await lockOrderLedger(client, message.orderId);
    const existing = await findOrderTransactions(client, message.orderId);
    // Any reversal (the tombstone included) means the order is compensating and does not wait
    // for this answer: posting now would book money that the reversal will never take back.
    if (existing.some((t) => t.kind === 'order.reversal')) return [];
    const payment = existing.find((t) => t.kind === 'order.payment');
    if (payment !== undefined) return [posted(message, payment.id)];
    const id = randomUUID();
    await insertTransaction(
      client,
      {
        id,
        orderId: message.orderId,
        kind: 'order.payment',
        reverses: null,
        description: `payment of order ${message.orderId}`,
      },
      entries,
    );
    return [posted(message, id)];
  };
}

async function reversePayment(client: Client, message: Message): Promise<OutgoingMessage[]> {
  await lockOrderLedger(client, message.orderId);
  const existing = await findOrderTransactions(client, message.orderId);
  if (existing.some((t) => t.kind === 'order.reversal')) return [reversed(message)];
  const payment = existing.find((t) => t.kind === 'order.payment');
  if (payment === undefined) {
    await insertTransaction(
      client,
      {
        id: randomUUID(),
        orderId: message.orderId,
        kind: 'order.reversal',
        reverses: null,
        description: `tombstone: order ${message.orderId} reversed before any payment was posted`,
      },
      [],
    );
    return [reversed(message)];
  }
  await insertTransaction(
    client,
    {
      id: randomUUID(),
      orderId: message.orderId,
      kind: 'order.reversal',
      reverses: payment.id,
      description: `reversal of payment ${payment.id} of order ${message.orderId}`,
    },
    reversalEntries(await findEntries(client, payment.id)),
  );
  return [reversed(message)];
}

function posted(cause: Message, transactionId: string): OutgoingMessage {
  return answer(cause, 'orders', 'ledger.posted', { transaction_id: transactionId });
}

function reversed(cause: Message): OutgoingMessage {
  return answer(cause, 'orders', 'ledger.reversed', {});
}

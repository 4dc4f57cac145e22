// The ledger worker: posts an order's payment and reverses it. Each command runs once (inbox) and
// is idempotent per order; a reverse that arrives before its post leaves a tombstone, so the late
// post is a no-op (no hanging posting).
import { randomUUID } from 'node:crypto';
import {
  handleBatch,
  type BatchEffect,
  type Effect,
  type HandleOnceDeps,
  type ModuleRuntime,
  type Work,
} from '../messaging/handle-once.ts';
import { PermanentError, handlerOf, type MessageHandler } from '../messaging/module-worker.ts';
import type { Client } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import { answer, type Message, type OutgoingMessage } from '../../queues/message.ts';
import { orderPaymentEntries, reversalEntries, type Entry, type OrderPayment } from '../domain/posting.ts';
import {
  findEntries,
  findOrdersTransactions,
  findOrderTransactions,
  insertTransaction,
  insertTransactions,
  lockOrderLedger,
  lockOrderLedgers,
  type NewTransaction,
} from './ledger.sql.ts';

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
    prepare: async (message) => {
      if (message.type !== 'ledger.post') return { message, effect: effectOf(message) };
      paymentEntriesOf(message); // amounts that do not add up fail here, before any transaction
      const work: Work = { message, effect: (client) => postPayments.apply(client, [work]), batch: postPayments };
      return work;
    },
    commit: async (works) => void (await handleBatch(deps, consumer, works)),
  };
}

export function createLedgerHandler(deps: LedgerDeps): MessageHandler {
  return handlerOf(createLedgerRuntime(deps));
}

function effectOf(message: Message): Effect {
  switch (message.type) {
    case 'ledger.reverse':
      return (client) => reversePayment(client, message);
    default:
      throw new PermanentError(`ledger handles no message type ${message.type}`);
  }
}

/** Amounts that do not add up are a bug in the sender: retrying cannot fix them. */
function paymentEntriesOf(message: Message): Entry[] {
  const payload = message.payload as unknown as LedgerPostPayload;
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

/**
 * Posts the payments of a batch's orders in three statements, whatever its size: their ledger locks
 * (in order-id order), their journal transactions so far, and the new postings. Per order, any
 * reversal (the tombstone included) means the order is compensating and does not wait for this
 * answer: posting now would book money the reversal never takes back, so nothing is posted or
 * answered. A payment posted before (a re-sent command) is answered again with its id.
 */
const postPayments: BatchEffect = {
  name: 'ledger.post',
  async apply(client: Client, works: Work[]): Promise<OutgoingMessage[]> {
    const messages = works.map((w) => w.message);
    const orderIds = messages.map((m) => m.orderId);
    await lockOrderLedgers(client, orderIds);
    const existing = await findOrdersTransactions(client, orderIds);
    const answers: OutgoingMessage[] = [];
    const postings: Array<{ transaction: NewTransaction; entries: Entry[] }> = [];
    for (const message of messages) {
      const own = existing.filter((t) => t.order_id === message.orderId);
      if (own.some((t) => t.kind === 'order.reversal')) continue;
      const payment = own.find((t) => t.kind === 'order.payment');
      if (payment !== undefined) {
        answers.push(posted(message, payment.id));
        continue;
      }
      const id = randomUUID();
      const entries = paymentEntriesOf(message);
      postings.push({
        transaction: {
          id,
          orderId: message.orderId,
          kind: 'order.payment',
          reverses: null,
          description: `payment of order ${message.orderId}`,
        },
        entries,
      });
      answers.push(posted(message, id));
    }
    await insertTransactions(client, postings);
    return answers;
  },
};

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

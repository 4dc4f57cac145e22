// Group commit on real servers: messages that arrive together share one transaction, with the order
// steps their answers make, and a poison message among them fails (and dead-letters) alone while
// the rest of its batch commits. Rows written by one transaction share its id (xmin): that is how
// the test sees the batches.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDeadLetters } from '../../src/messaging/dead-letters.ts';
import { placeOrder } from '../../src/orders/order.service.ts';
import { address, freshProduct, startTestEngine, type TestEngine } from '../support/engine.ts';
import { messageFor, until } from '../support/harness.ts';

let engine: TestEngine;
beforeAll(async () => {
  // Only the inventory worker: the orders it steps then wait for payment, untouched. A linger makes
  // the jobs of one addBulk meet in one batch however the scheduler runs the test.
  engine = await startTestEngine(
    { QUEUE_ATTEMPTS: '2', QUEUE_BACKOFF_MS: '10', BATCH_LINGER_MS: '150', BATCH_SIZE_MAX: '32' },
    { roles: ['inventory'] },
  );
});
afterAll(async () => {
  await engine?.close();
});

/** Orders placed but never dispatched: their reserve commands are the test's own jobs. */
async function pendingOrders(count: number, productId: string): Promise<string[]> {
  const { config, pool, transaction } = engine.core;
  const deps = {
    pool,
    transaction,
    dispatcher: { dispatch: async () => undefined, sweep: async () => 0 },
    topic: config.KAFKA_TOPIC_ORDER_EVENTS,
    reservationTtlMs: 60_000,
    paymentDeadlineMs: 60_000,
  };
  const ids: string[] = [];
  for (let n = 0; n < count; n++) {
    const placed = await placeOrder(deps, {
      userId: `group-${n}`,
      currency: 'USD',
      items: [{ product_id: productId, quantity: 1 }],
      couponCode: null,
      shippingAddress: address,
      correlationId: `group-${n}`,
    });
    if (!placed.ok || placed.value === null) throw new Error('order not placed');
    ids.push(placed.value.id);
  }
  return ids;
}

/** The transaction id of each order's last step: the reservation's, when both were one transaction. */
async function stepTransactions(orderIds: string[]): Promise<string[]> {
  const rows = await engine.core.pool.query<{ xmin: string; state: string }>(
    `SELECT xmin::text, state FROM orders WHERE id = ANY($1::uuid[])`,
    [orderIds],
  );
  expect(rows.rows.every((r) => r.state === 'charging')).toBe(true);
  return rows.rows.map((r) => r.xmin);
}

async function reserveAll(lines: Array<{ orderId: string; productId: string; quantity: number }>): Promise<void> {
  await engine.core.queues.get('inventory')!.addBulk(
    lines.map(({ orderId, productId, quantity }) => {
      const message = messageFor(orderId, 'inventory.reserve', {
        items: [{ product_id: productId, quantity }],
        ttl_ms: 60_000,
      });
      return { name: 'inventory.reserve', data: message, opts: { jobId: message.messageId } };
    }),
  );
}

/** The transaction id of each order's reservation group, once all are written. */
async function groupTransactions(orderIds: string[]): Promise<string[]> {
  return until(async () => {
    const rows = await engine.core.pool.query<{ xmin: string; status: string }>(
      `SELECT xmin::text, status FROM reservation_groups WHERE order_id = ANY($1::uuid[])`,
      [orderIds],
    );
    if (rows.rowCount !== orderIds.length) return undefined;
    expect(rows.rows.every((r) => r.status === 'held')).toBe(true);
    return rows.rows.map((r) => r.xmin);
  });
}

describe('group commit', () => {
  it('commits messages that arrive together in one transaction, with the steps of their orders', async () => {
    const productId = await freshProduct(engine.core, 100);
    const orderIds = await pendingOrders(10, productId);
    await reserveAll(orderIds.map((orderId) => ({ orderId, productId, quantity: 1 })));
    const transactions = await groupTransactions(orderIds);
    expect(new Set(transactions).size).toBeLessThanOrEqual(2);
    // Each order stepped to charging in the transaction of its reservation: no answer travelled.
    expect((await stepTransactions(orderIds)).sort()).toEqual([...transactions].sort());
  });

  it('fails a poison message alone: the rest of its batch commits, the poison dead-letters', async () => {
    const productId = await freshProduct(engine.core, 100);
    const orderIds = await pendingOrders(10, productId);
    const poison = randomUUID();
    // A quantity PostgreSQL's integer cannot hold: valid for the payload schema, refused by the
    // statement, so it breaks the whole batch's transaction.
    await reserveAll([
      ...orderIds.slice(0, 5).map((orderId) => ({ orderId, productId, quantity: 1 })),
      { orderId: poison, productId, quantity: 3_000_000_000 },
      ...orderIds.slice(5).map((orderId) => ({ orderId, productId, quantity: 1 })),
    ]);
    const transactions = await groupTransactions(orderIds);
    // After the batch failed, each message was committed alone: one transaction each.
    expect(new Set(transactions).size).toBe(orderIds.length);
    expect((await stepTransactions(orderIds)).sort()).toEqual([...transactions].sort());
    const dead = await until(async () =>
      (await listDeadLetters(engine.core.pool)).find((d) => d.message_id === `${poison}.inventory.reserve`),
    );
    expect(dead.error).toMatch(/out of range/);
    const poisonRows = await engine.core.pool.query(`SELECT 1 FROM reservation_groups WHERE order_id = $1`, [poison]);
    expect(poisonRows.rowCount).toBe(0);
    const stock = await engine.core.pool.query<{ available: number; held: number }>(
      `SELECT available, held FROM stock WHERE product_id = $1`,
      [productId],
    );
    expect(stock.rows[0]).toEqual({ available: 90, held: 10 });
  });
});

// `Prefer: wait` is told, not polled: the transaction that changes an order's status notifies at
// its commit, and the waiter answers with the row it holds merged with what it was told. A poll of
// every waiting order at once is only the backstop, for a change nobody told.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrderWaiter } from '../../src/api/order-waiter.ts';
import { applyOrderEvents } from '../../src/orders/order.actor.ts';
import { readOrder, type OrderRow } from '../../src/orders/order.sql.ts';
import { withTransaction, type Pool } from '../../src/platform/db.ts';
import { address, freshProduct, postJson, startTestEngine, type TestEngine } from '../support/engine.ts';
import { messageFor } from '../support/harness.ts';
import { testConfig } from '../support/test-config.ts';

let engine: TestEngine;
beforeAll(async () => {
  engine = await startTestEngine({}, { roles: [] }); // no workers: orders stay pending until we move them
});
afterAll(async () => {
  await engine?.close();
});

function countingPool(pool: Pool, counter: { polls: number }): Pool {
  return new Proxy(pool, {
    get(target, property, receiver) {
      if (property !== 'query') return Reflect.get(target, property, receiver);
      return (query: { name?: string }, values?: unknown[]) => {
        if (query.name === 'orders-changes') counter.polls++;
        return target.query(query as never, values);
      };
    },
  });
}

async function pendingOrders(count: number): Promise<OrderRow[]> {
  const product = await freshProduct(engine.core, 100);
  const orders: OrderRow[] = [];
  for (let n = 0; n < count; n++) {
    const res = await postJson(`${engine.url}/api/v1/orders`, {
      user_id: `waiter-${n}`,
      currency: 'USD',
      items: [{ product_id: product, quantity: 1 }],
      shipping_address: address,
    });
    orders.push((await readOrder(engine.core.pool, res.body.id as string))!);
  }
  return orders;
}

const leftPending = (o: OrderRow) => o.status !== 'pending';

describe('the order waiter', () => {
  it('ends a wait at the commit that moves its order, with the row it was told and no poll', async () => {
    const orders = await pendingOrders(40);
    const counter = { polls: 0 };
    const waiter = createOrderWaiter(countingPool(engine.core.pool, counter), {
      listenUrl: testConfig().DATABASE_URL,
      logger: engine.core.logger,
      backstopMs: 10_000,
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300)); // the LISTEN connection is up
      const polledAtStart = counter.polls;
      const waits = orders.map((o) => waiter.watch(o.id).until(o, 1_500, leftPending));
      const started = Date.now();
      const first = orders[0]!;
      // The order actor's own step, as a worker runs it: the cancel moves the order to compensating.
      await withTransaction(engine.core.pool, (client) =>
        applyOrderEvents(client, [messageFor(first.id, 'order.cancel')], testConfig().KAFKA_TOPIC_ORDER_EVENTS),
      );
      const told = await waits[0]!;
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(told).toMatchObject({
        id: first.id,
        status: 'cancelling',
        version: 2,
        failure_reason: 'cancelled_by_customer',
      });
      expect(told.state).toMatch(/^compensating/);
      expect(told.items).toEqual(first.items); // the rest of the row is the one the waiter held
      const rest = await Promise.all(waits.slice(1));
      expect(rest.every((o) => o.status === 'pending' && o.version === 1)).toBe(true);
      expect(counter.polls - polledAtStart).toBe(0);
    } finally {
      await waiter.close();
    }
  });

  it('falls back on one poll per interval for every waiting order when nobody tells', async () => {
    const orders = await pendingOrders(20);
    const counter = { polls: 0 };
    const waiter = createOrderWaiter(countingPool(engine.core.pool, counter), {
      logger: engine.core.logger,
      backstopMs: 100,
    });
    try {
      const waits = orders.map((o) => waiter.watch(o.id).until(o, 1_000, leftPending));
      const started = Date.now();
      setTimeout(() => {
        // A change that no transaction of the engine told (an operator's UPDATE, say).
        void engine.core.pool.query(`UPDATE orders SET status = 'rejected', version = version + 1 WHERE id = $1`, [
          orders[0]!.id,
        ]);
      }, 200);
      const first = await waits[0]!;
      expect(first.status).toBe('rejected');
      expect(Date.now() - started).toBeLessThan(700);
      await Promise.all(waits.slice(1));
      // About 1 s / 100 ms = 10 polls for 20 waiters, not one per waiter.
      expect(counter.polls).toBeGreaterThan(3);
      expect(counter.polls).toBeLessThanOrEqual(12);
    } finally {
      await waiter.close();
    }
  });
});

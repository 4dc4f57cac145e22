// `Prefer: wait` shares one poller: however many requests wait, PostgreSQL sees one status query
// per tick, and each wait ends as soon as its order's status does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrderWaiter } from '../../src/api/order-waiter.ts';
import type { Pool } from '../../src/platform/db.ts';
import { address, freshProduct, postJson, startTestEngine, type TestEngine } from '../support/engine.ts';

let engine: TestEngine;
beforeAll(async () => {
  engine = await startTestEngine({}, { roles: [] }); // no workers: orders stay pending until we move them
});
afterAll(async () => {
  await engine?.close();
});

function countingPool(pool: Pool, counter: { statusPolls: number }): Pool {
  return new Proxy(pool, {
    get(target, property, receiver) {
      if (property !== 'query') return Reflect.get(target, property, receiver);
      return (text: string, values?: unknown[]) => {
        if (text.startsWith('SELECT id, status, version FROM orders')) counter.statusPolls++;
        return target.query(text, values);
      };
    },
  });
}

describe('the shared order waiter', () => {
  it('polls once per tick for 40 waiters, and ends each wait when its order leaves pending', async () => {
    const product = await freshProduct(engine.core, 100);
    const ids: string[] = [];
    for (let n = 0; n < 40; n++) {
      const res = await postJson(`${engine.url}/api/v1/orders`, {
        user_id: `waiter-${n}`,
        currency: 'USD',
        items: [{ product_id: product, quantity: 1 }],
        shipping_address: address,
      });
      ids.push(res.body.id as string);
    }
    const counter = { statusPolls: 0 };
    const waiter = createOrderWaiter(countingPool(engine.core.pool, counter), 50);
    const started = Date.now();
    // Requests arrive over time, as they do: many while a poll is in flight.
    const waits = ids.map(
      (id, n) =>
        new Promise<Awaited<ReturnType<typeof waiter.wait>>>((resolve, reject) => {
          setTimeout(
            () => waiter.wait(id, 1_000 - n * 10, (o) => o.status !== 'pending').then(resolve, reject),
            n * 10,
          );
        }),
    );
    // One order moves on after 200 ms; its wait must end then, not at the deadline.
    setTimeout(() => {
      void engine.core.pool.query(`UPDATE orders SET status = 'rejected' WHERE id = $1`, [ids[0]]);
    }, 200);
    const first = await waits[0];
    const firstMs = Date.now() - started;
    const rest = await Promise.all(waits.slice(1));
    expect(first?.status).toBe('rejected');
    expect(firstMs).toBeLessThan(700);
    expect(rest.every((o) => o?.status === 'pending')).toBe(true);
    // About 1 s / 50 ms = 20 ticks; 40 independent pollers would have made hundreds.
    expect(counter.statusPolls).toBeGreaterThan(5);
    expect(counter.statusPolls).toBeLessThanOrEqual(25);
  });
});

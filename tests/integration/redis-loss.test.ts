// Redis is not the truth either: when every BullMQ job is lost (a Redis restart without
// persistence), the outbox knows which messages were never processed and hands them over again.
import { afterEach, describe, expect, it } from 'vitest';
import { checkInvariants, waitUntilFinal } from '../../chaos/invariants.ts';
import { startWorkers } from '../../src/main/engine.ts';
import { workerRoles } from '../../src/main/roles.ts';
import { address, freshProduct, postJson, startTestEngine, type TestEngine } from '../support/engine.ts';

let engine: TestEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

async function loseEveryJob(e: TestEngine): Promise<void> {
  for (const queue of e.core.queues.values()) await queue.obliterate({ force: true });
}

async function place(e: TestEngine, count: number, product: string, prefix: string): Promise<string[]> {
  const placed = await Promise.all(
    Array.from({ length: count }, (_, n) =>
      postJson(`${e.url}/api/v1/orders`, {
        user_id: `${prefix}-${n}`,
        currency: 'USD',
        items: [{ product_id: product, quantity: 1 }],
        shipping_address: address,
      }),
    ),
  );
  return placed.map((p) => p.body.id as string);
}

describe('Redis loses every job', () => {
  it('before any worker ran: every order still completes', async () => {
    engine = await startTestEngine({ OUTBOX_REDELIVER_AFTER_MS: '1000' }, { roles: [] });
    const product = await freshProduct(engine.core, 5);
    const ids = await place(engine, 8, product, 'lost-early');
    const waiting = await engine.core.queues.get('inventory')!.getWaitingCount();
    expect(waiting).toBeGreaterThanOrEqual(8);
    await loseEveryJob(engine);
    expect(await engine.core.queues.get('inventory')!.getWaitingCount()).toBe(0);
    const running = await startWorkers(engine.core, workerRoles);
    try {
      expect(await waitUntilFinal(engine.core.pool, ids, 60_000)).toEqual([]);
      const report = await checkInvariants(engine.core.pool, ids);
      expect(report.violations).toEqual([]);
      expect(report.byStatus).toEqual({ confirmed: 5, rejected: 3 });
    } finally {
      await running.close();
    }
  });

  it('mid-flight, twice: every order still completes and the books balance', async () => {
    engine = await startTestEngine({
      OUTBOX_REDELIVER_AFTER_MS: '1000',
      PAYMENT_SIM_LATENCY_MS_MIN: '20',
      PAYMENT_SIM_LATENCY_MS_MAX: '60',
    });
    const product = await freshProduct(engine.core, 100, '3.00');
    const ids = await place(engine, 30, product, 'lost-mid');
    await new Promise((resolve) => setTimeout(resolve, 150));
    await loseEveryJob(engine);
    ids.push(...(await place(engine, 10, product, 'lost-mid-2')));
    await new Promise((resolve) => setTimeout(resolve, 150));
    await loseEveryJob(engine);
    expect(await waitUntilFinal(engine.core.pool, ids, 90_000)).toEqual([]);
    const report = await checkInvariants(engine.core.pool, ids);
    expect(report.violations).toEqual([]);
    expect(report.byStatus).toEqual({ confirmed: 40 });
  }, 120_000);
});

// The last item is never sold twice, with or without Redlock, and a second delivery of every
// command and event changes nothing.
import { afterEach, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import { checkInvariants, waitUntilFinal } from '../../chaos/invariants.ts';
import { stockOf } from '../../src/inventory/inventory.sql.ts';
import type { OutboxRow } from '../../src/messaging/outbox.sql.ts';
import { jobDataOf, type Dispatcher } from '../../src/messaging/dispatcher.ts';
import type { CoreDeps } from '../../src/main/core-deps.ts';
import { address, freshProduct, postJson, startTestEngine, type TestEngine } from '../support/engine.ts';

let engine: TestEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

async function placeMany(count: number, product: string, userPrefix: string): Promise<string[]> {
  const ids: string[] = [];
  const clients = 50;
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < count) {
        const n = next++;
        const res = await postJson(`${engine!.url}/api/v1/orders`, {
          user_id: `${userPrefix}-${n}`,
          currency: 'USD',
          items: [{ product_id: product, quantity: 1 }],
          shipping_address: address,
        });
        expect(res.status).toBe(202);
        ids.push(res.body.id as string);
      }
    }),
  );
  return ids;
}

describe.each([
  ['Redlock on', 'true'],
  ['Redlock off: PostgreSQL alone guards', 'false'],
])('200 concurrent orders for a product with stock 5 (%s)', (_name, redlock) => {
  it('confirms exactly 5 and rejects 195 out_of_stock', async () => {
    engine = await startTestEngine({ REDLOCK_ENABLED: redlock, WORKER_CONCURRENCY: '32' });
    const product = await freshProduct(engine.core, 5);
    const ids = await placeMany(200, product, `race-${redlock}`);
    expect(await waitUntilFinal(engine.core.pool, ids, 60_000)).toEqual([]);
    const report = await checkInvariants(engine.core.pool, ids);
    expect(report.violations).toEqual([]);
    expect(report.byStatus).toEqual({ confirmed: 5, rejected: 195 });
    const reasons = await engine.core.pool.query(
      `SELECT failure_reason, count(*)::int AS n FROM orders WHERE id = ANY($1::uuid[]) AND status = 'rejected' GROUP BY 1`,
      [ids],
    );
    expect(reasons.rows).toEqual([{ failure_reason: 'out_of_stock', n: 195 }]);
    expect(await stockOf(engine.core.pool, [product])).toEqual([
      { product_id: product, on_hand: 5, available: 0, held: 0, sold: 5 },
    ]);
  });
});

/** Hands every job to BullMQ twice: once under its message id, once more under another job id. */
function duplicatingDispatcher(core: CoreDeps, inner: Dispatcher, counter: { extra: number }): Dispatcher {
  return {
    async dispatch(rows: OutboxRow[]) {
      await inner.dispatch(rows);
      for (const row of rows) {
        if (!row.destination.startsWith('queue:')) continue;
        const queue = core.queues.get(row.destination.slice('queue:'.length)) as Queue;
        await queue.add(row.type, jobDataOf(row), { jobId: `${row.message_id}.again`, delay: row.delay_ms });
        counter.extra++;
      }
    },
    sweep: () => inner.sweep(),
  };
}

describe('duplicate delivery', () => {
  it('reaches the same end state when every command and event is delivered twice', async () => {
    const counter = { extra: 0 };
    engine = await startTestEngine(
      {},
      {
        beforeWorkers: (core) => {
          core.dispatcher = duplicatingDispatcher(core, core.dispatcher, counter);
        },
      },
    );
    const product = await freshProduct(engine.core, 3, '12.50');
    const ids = await placeMany(6, product, 'dup');
    expect(await waitUntilFinal(engine.core.pool, ids, 30_000)).toEqual([]);
    // Let the second copies of the last answers run too before judging.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const report = await checkInvariants(engine.core.pool, ids);
    expect(report.violations).toEqual([]);
    expect(report.byStatus).toEqual({ confirmed: 3, rejected: 3 });
    expect(counter.extra).toBeGreaterThan(20);
    expect(await stockOf(engine.core.pool, [product])).toEqual([
      { product_id: product, on_hand: 3, available: 0, held: 0, sold: 3 },
    ]);
    const steps = await engine.core.pool.query(
      `SELECT count(*)::int AS n FROM order_transitions WHERE order_id = ANY($1::uuid[])`,
      [ids],
    );
    // 5 transitions per confirmed order, 2 per rejected one: duplicates added none.
    expect(steps.rows[0].n).toBe(3 * 5 + 3 * 2);
  });
});

describe('a crash between commit and dispatch', () => {
  it('delays the order and never loses it: the sweeper hands over what the fast path dropped', async () => {
    const dropped = { rows: 0 };
    engine = await startTestEngine(
      { OUTBOX_SWEEP_AGE_MS: '300', OUTBOX_SWEEP_INTERVAL_MS: '200' },
      {
        beforeWorkers: (core) => {
          const inner = core.dispatcher;
          // The fast path "crashes" after every commit: nothing reaches BullMQ but by the sweeper.
          core.dispatcher = {
            dispatch: async (rows) => {
              dropped.rows += rows.length;
            },
            sweep: () => inner.sweep(),
          };
        },
      },
    );
    const product = await freshProduct(engine.core, 2);
    const ids = await placeMany(4, product, 'swept');
    expect(await waitUntilFinal(engine.core.pool, ids, 60_000)).toEqual([]);
    const report = await checkInvariants(engine.core.pool, ids);
    expect(report.violations).toEqual([]);
    expect(report.byStatus).toEqual({ confirmed: 2, rejected: 2 });
    expect(dropped.rows).toBeGreaterThan(10);
  });
});

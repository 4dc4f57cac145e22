// A job that keeps failing is never dropped silently: it stays in BullMQ's failed set, lands in
// dead_letters (visible, counted), and an operator can redrive it: a message not yet processed goes
// back under its own job id; one its consumer processed is not put back.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInvariants, waitUntilFinal } from '../../chaos/invariants.ts';
import { startWorkers, type RunningWorkers } from '../../src/main/engine.ts';
import { listDeadLetters, redriveDeadLetters } from '../../src/messaging/dead-letters.ts';
import { address, freshProduct, postJson, startTestEngine, type TestEngine } from '../support/engine.ts';
import { messageFor, until } from '../support/harness.ts';

let engine: TestEngine;
beforeAll(async () => {
  engine = await startTestEngine({ QUEUE_ATTEMPTS: '2', QUEUE_BACKOFF_MS: '10' });
});
afterAll(async () => {
  await engine?.close();
});

describe('dead letters', () => {
  it('records a job that cannot succeed, visibly and countably', async () => {
    const orderId = randomUUID();
    const queue = engine.core.queues.get('inventory')!;
    // A reserve with no items is a sender's bug: refused without retry.
    await queue.add('inventory.reserve', messageFor(orderId, 'inventory.reserve', { items: [], ttl_ms: 1000 }), {
      jobId: `${orderId}.bad`,
    });
    const dead = await until(async () =>
      (await listDeadLetters(engine.core.pool)).find((d) => d.message_id === `${orderId}.inventory.reserve`),
    );
    expect(dead).toMatchObject({ queue: 'inventory', job_id: `${orderId}.bad` });
    expect(dead.error).toMatch(/bad payload for inventory.reserve/);
    expect(await queue.getFailedCount()).toBeGreaterThanOrEqual(1);
  });

  it('redrives a dead letter onto its queue, where it is processed once', async () => {
    // An order refused for want of stock: its release (the dead letter) frees nothing, and its
    // answer finds the order final, which ignores it.
    const product = await freshProduct(engine.core, 0);
    const placed = await postJson(`${engine.url}/api/v1/orders`, {
      user_id: 'redrive-user',
      currency: 'USD',
      items: [{ product_id: product, quantity: 1 }],
      shipping_address: address,
    });
    const orderId = placed.body.id as string;
    expect(await waitUntilFinal(engine.core.pool, [orderId], 15_000)).toEqual([]);
    const message = messageFor(orderId, 'inventory.release');
    const inserted = await engine.core.pool.query<{ id: string }>(
      `INSERT INTO dead_letters (queue, job_id, message_id, data, error, attempts)
       VALUES ('inventory', $1, $2, $3, 'simulated outage', 8) RETURNING id`,
      [message.messageId, message.messageId, message],
    );
    const id = inserted.rows[0]!.id;
    expect(await redriveDeadLetters(engine.core.pool, engine.core.queues, [id])).toBe(1);
    await until(async () => {
      const seen = await engine.core.pool.query(
        `SELECT 1 FROM inbox WHERE consumer = 'inventory' AND message_id = $1`,
        [message.messageId],
      );
      return seen.rowCount === 1 ? true : undefined;
    });
    const group = await engine.core.pool.query(`SELECT status FROM reservation_groups WHERE order_id = $1`, [orderId]);
    expect(group.rows).toEqual([{ status: 'released' }]);
    const order = await engine.core.pool.query(`SELECT status FROM orders WHERE id = $1`, [orderId]);
    expect(order.rows).toEqual([{ status: 'rejected' }]);
    expect((await listDeadLetters(engine.core.pool)).some((d) => d.id === id)).toBe(false);
  });

  it('puts a message back under its own job id, and never one its consumer already processed', async () => {
    // An engine with no inventory worker and no sweeper: the order's reserve waits in BullMQ, where
    // it is turned into a dead letter by hand, as if its job had exhausted its attempts.
    const own = await startTestEngine({}, { roles: ['orders', 'coupons', 'payments', 'ledger'] });
    let inventory: RunningWorkers | undefined;
    try {
      const product = await freshProduct(own.core, 3);
      const placed = await postJson(`${own.url}/api/v1/orders`, {
        user_id: 'dead-letter-redrive',
        currency: 'USD',
        shipping_address: address,
        items: [{ product_id: product, quantity: 1 }],
      });
      const orderId = placed.body.id as string;
      const messageId = `${orderId}.inventory.reserve`;
      const queue = own.core.queues.get('inventory')!;
      const job = await until(async () => (await queue.getJob(messageId)) ?? undefined);
      const deadLetter = async () =>
        (
          await own.core.pool.query<{ id: string }>(
            `INSERT INTO dead_letters (queue, job_id, message_id, data, error, attempts)
             VALUES ('inventory', $1, $1, $2, 'simulated outage', 8) RETURNING id`,
            [messageId, job.data],
          )
        ).rows[0]!.id;
      await job.remove();
      const first = await deadLetter();

      expect(await redriveDeadLetters(own.core.pool, own.core.queues, [first])).toBe(1);
      expect(await queue.getJob(messageId)).toBeDefined(); // back under its own id
      inventory = await startWorkers(own.core, ['inventory']);
      expect(await waitUntilFinal(own.core.pool, [orderId], 20_000)).toEqual([]);
      const seen = await own.core.pool.query(`SELECT 1 FROM inbox WHERE consumer = 'inventory' AND message_id = $1`, [
        messageId,
      ]);
      expect(seen.rowCount).toBe(1);
      expect((await listDeadLetters(own.core.pool)).some((d) => d.id === first)).toBe(false);

      // The same message dead-lettered again after its consumer processed it: nothing is put back.
      await (await queue.getJob(messageId))?.remove();
      const second = await deadLetter();
      expect(await redriveDeadLetters(own.core.pool, own.core.queues, [second])).toBe(1);
      expect(await queue.getJob(messageId)).toBeUndefined();
      expect((await listDeadLetters(own.core.pool)).some((d) => d.id === second)).toBe(false);
      expect((await checkInvariants(own.core.pool, [orderId])).violations).toEqual([]);
    } finally {
      await inventory?.close();
      await own.close();
    }
  });
});

// No pruning can let a message act twice (the inbox rule of migrations/013_retention.sql). One
// confirmed order's rows are aged past every window and pruned; three of its messages can still
// come again, each by one path: the sweeper (its outbox row is still there), a redrive (a dead
// letter names it) and a duplicate or retried BullMQ job (its job is still in Redis). Their inbox
// rows must survive the prune, and every redelivery afterwards must change nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInvariants } from '../../chaos/invariants.ts';
import { redriveDeadLetters } from '../../src/messaging/dead-letters.ts';
import { createRetention, type Retention } from '../../src/retention/retention.job.ts';
import { address, freshProduct, postJson, startTestEngine, type TestEngine } from '../support/engine.ts';
import { until } from '../support/harness.ts';

const hourMs = 3_600_000;
let engine: TestEngine;
let retention: Retention;

beforeAll(async () => {
  // Completed jobs are kept here (the default drops them), so rule d meets a job still in BullMQ.
  engine = await startTestEngine({ OUTBOX_REDELIVER_AFTER_MS: '1000', QUEUE_REMOVE_ON_COMPLETE_COUNT: '1000' });
  retention = createRetention(
    {
      pool: engine.core.pool,
      redis: engine.core.redis,
      queuePrefix: engine.core.config.QUEUE_PREFIX,
      topic: 'not-under-test',
      topicWindow: async () => ({ redeliverableMs: null, reason: 'not under test here' }),
      logger: engine.core.logger,
    },
    {
      outboxRetentionMs: hourMs,
      inboxRetentionMs: hourMs,
      notificationInboxRetentionMs: hourMs,
      idempotencyKeyTtlMs: 86_400_000,
      batchMax: 3,
      runRowsMax: 1_000_000,
    },
  );
});
afterAll(async () => {
  await engine?.close();
});

/** What a second run of any of the order's messages would change. */
async function effectsOf(orderId: string) {
  const query = async (sql: string) => (await engine.core.pool.query(sql, [orderId])).rows;
  return {
    order: await query(`SELECT status, state, version FROM orders WHERE id = $1`),
    transitions: await query(
      `SELECT seq, event_type, message_id FROM order_transitions WHERE order_id = $1 ORDER BY seq`,
    ),
    charges: await query(`SELECT id, kind, status, amount FROM provider_charges WHERE order_id = $1 ORDER BY id`),
    payments: await query(`SELECT idempotency_key, status FROM payments WHERE order_id = $1 ORDER BY 1`),
    ledger: await query(`SELECT id, kind FROM ledger_transactions WHERE order_id = $1 ORDER BY id`),
    reservations: await query(`SELECT product_id, status FROM reservations WHERE order_id = $1 ORDER BY 1`),
    inbox: await query(
      `SELECT consumer, message_id, processed_at FROM inbox WHERE message_id LIKE $1 || '.%' ORDER BY 1, 2`,
    ),
  };
}

/** Moves every timestamp of the order's inbox and outbox rows two hours back (but one outbox row's). */
async function ageRows(orderId: string, youngOutboxMessage: string): Promise<void> {
  await engine.core.pool.query(
    `UPDATE inbox SET processed_at = processed_at - interval '2 hours' WHERE message_id LIKE $1 || '.%'`,
    [orderId],
  );
  await engine.core.pool.query(
    `UPDATE outbox SET created_at = created_at - interval '2 hours', due_at = due_at - interval '2 hours',
            processed_at = processed_at - interval '2 hours', dispatched_at = dispatched_at - interval '2 hours'
      WHERE key = $1 AND message_id <> $2`,
    [orderId, youngOutboxMessage],
  );
}

async function jobState(queue: string, jobId: string): Promise<string> {
  const job = await engine.core.queues.get(queue)!.getJob(jobId);
  return job === undefined ? 'none' : await job.getState();
}

/** One order through the whole engine, confirmed; returns its id. */
async function placeConfirmed(userId: string): Promise<string> {
  const product = await freshProduct(engine.core, 5);
  const placed = await postJson(
    `${engine.url}/api/v1/orders`,
    { user_id: userId, currency: 'USD', shipping_address: address, items: [{ product_id: product, quantity: 1 }] },
    { Prefer: 'wait=20' },
  );
  expect(placed.body.status).toBe('confirmed');
  return placed.body.id as string;
}

describe('pruning, then every redelivery path', () => {
  it('keeps the inbox row of every message a path can still bring, and no redelivery acts twice', async () => {
    const orderId = await placeConfirmed('retention-rule');
    const viaSweeper = `${orderId}.inventory.commit`; // its outbox row is still there, its job lost
    const viaRedrive = `${orderId}.payment.charge`; // a dead letter names it
    const viaJob = `${orderId}.ledger.post`; // its completed job is still in BullMQ
    const before = await effectsOf(orderId);
    // Both kinds of inbox row: messages that came as jobs, and answers applied in their sender's
    // transaction (consumer orders, no outbox row, no job).
    expect(before.inbox.filter((r) => r.consumer === 'orders').length).toBeGreaterThanOrEqual(3);
    expect(before.inbox.length).toBeGreaterThanOrEqual(7);

    // Redis forgets every job of the order but one (as removeOnComplete, or a restart, would).
    for (const row of before.inbox) {
      if (row.message_id !== viaJob)
        await (await engine.core.queues.get(row.consumer)?.getJob(row.message_id))?.remove();
    }
    expect(await jobState('ledger', viaJob)).toBe('completed');
    // The charge's job failed after its commit: the dead letter an operator could redrive.
    await engine.core.pool.query(
      `INSERT INTO dead_letters (queue, job_id, message_id, data, error, attempts)
       SELECT 'payments', message_id, message_id,
              jsonb_build_object('messageId', message_id, 'orderId', key, 'correlationId', 'retention-test',
                                 'type', type, 'payload', payload), 'commit outcome unknown', 8
         FROM outbox WHERE message_id = $1`,
      [viaRedrive],
    );
    await ageRows(orderId, viaSweeper);

    const pruned = await retention.run();
    expect(pruned).not.toBeNull();
    const kept = await effectsOf(orderId);
    expect(kept.inbox.map((r) => r.message_id).sort()).toEqual([viaSweeper, viaRedrive, viaJob].sort());
    const outboxLeft = await engine.core.pool.query<{ message_id: string }>(
      `SELECT message_id FROM outbox WHERE key = $1 AND destination LIKE 'queue:%'`,
      [orderId],
    );
    expect(outboxLeft.rows.map((r) => r.message_id)).toEqual([viaSweeper]);

    // 1. The sweeper: the row's job is lost (handed over long ago, never marked processed).
    await engine.core.pool.query(
      `UPDATE outbox SET processed_at = NULL, dispatched_at = now() - interval '1 hour' WHERE message_id = $1`,
      [viaSweeper],
    );
    await until(async () => ((await jobState('inventory', viaSweeper)) === 'completed' ? true : undefined));
    // 2. A redrive: the consumer processed it, so nothing is put back.
    const letter = await engine.core.pool.query<{ id: string }>(`SELECT id FROM dead_letters WHERE message_id = $1`, [
      viaRedrive,
    ]);
    expect(await redriveDeadLetters(engine.core.pool, engine.core.queues, [letter.rows[0]!.id])).toBe(1);
    expect(await jobState('payments', viaRedrive)).toBe('none');
    // 3. A duplicate job (BullMQ keeps one job per id) and the kept job retried, as from Bull Board.
    const ledger = engine.core.queues.get('ledger')!;
    const job = (await ledger.getJob(viaJob))!;
    await ledger.add(job.name, job.data, { jobId: viaJob });
    await job.retry('completed');
    await until(async () => ((await jobState('ledger', viaJob)) === 'completed' ? true : undefined));

    expect(await effectsOf(orderId)).toEqual(kept);
    expect((await checkInvariants(engine.core.pool, [orderId])).violations).toEqual([]);
    expect({ ...kept, inbox: undefined }).toEqual({ ...before, inbox: undefined });

    // Each survivor was kept by its own path alone: once the paths are gone, the rows go too.
    await engine.core.pool.query(`DELETE FROM outbox WHERE message_id = $1`, [viaSweeper]);
    await (await engine.core.queues.get('inventory')!.getJob(viaSweeper))?.remove();
    await (await ledger.getJob(viaJob))?.remove();
    await retention.run();
    expect((await effectsOf(orderId)).inbox).toEqual([]);
  });

  it('leaves young rows, and rows whose outbox row is undelivered, alone', async () => {
    const orderId = await placeConfirmed('retention-young');
    const before = await effectsOf(orderId);
    await retention.run();
    expect((await effectsOf(orderId)).inbox).toEqual(before.inbox);
    // Kafka rows: no relay runs here, so none is published, and none goes, however old.
    await ageRows(orderId, '');
    await retention.run();
    const kafka = await engine.core.pool.query(`SELECT 1 FROM outbox WHERE key = $1 AND destination LIKE 'kafka:%'`, [
      orderId,
    ]);
    expect(kafka.rowCount).toBeGreaterThanOrEqual(4);
  });
});

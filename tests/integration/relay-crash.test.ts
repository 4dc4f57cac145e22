// The relay SIGKILLed between the broker's ack and the mark, 20 times: duplicates reach the topic,
// nothing goes missing, and the notifications consumer still confirms each order once. Also:
// poison rows are parked and replayable; pruning removes only delivered rows.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntilFinal } from '../../chaos/invariants.ts';
import { insertOutbox } from '../../src/messaging/outbox.sql.ts';
import { pruneDelivered } from '../../src/messaging/outbox.sql.ts';
import { listParked, replayParked } from '../../src/relay/relay.sql.ts';
import { startRelay } from '../../src/relay/relay.worker.ts';
import { withTransaction } from '../../src/platform/db.ts';
import { address, freshProduct, postJson, startTestEngine, type TestEngine } from '../support/engine.ts';
import { createTopic, deleteTopic, readTopic, startTestNotifications } from '../support/kafka-topic.ts';
import { allCommittedSeen, committedEvents, compareDelivery, waitUntilDelivered } from '../support/relay-check.ts';
import { testConfig, testDatabaseUrl } from '../support/test-config.ts';

let engine: TestEngine;
let topic: string;
let notifications: { stop(): Promise<void> } | undefined;
const children: ChildProcess[] = [];

function spawnRelay(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/relay.main.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: testDatabaseUrl(),
      QUEUE_PREFIX: engine.core.config.QUEUE_PREFIX,
      LOG_LEVEL: 'info',
      RELAY_POLL_INTERVAL_MS: '100',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return child;
}

/** Starts a relay that pauses after each publish, and SIGKILLs it inside that pause. */
function killBetweenPublishAndMark(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawnRelay({ RELAY_PAUSE_AFTER_PUBLISH_MS: '10000', RELAY_BATCH_SIZE_MAX: '25' });
    const timer = setTimeout(() => reject(new Error('the relay never published a batch')), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('pausing before the mark')) child.kill('SIGKILL');
    });
    child.once('exit', (_code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`relay exited by itself (${signal ?? _code})`));
    });
  });
}

async function placeOrders(count: number, product: string, prefix: string): Promise<string[]> {
  const placed = await Promise.all(
    Array.from({ length: count }, (_, n) =>
      postJson(`${engine.url}/api/v1/orders`, {
        user_id: `${prefix}-${n}`,
        currency: 'USD',
        items: [{ product_id: product, quantity: 1 }],
        shipping_address: address,
      }),
    ),
  );
  return placed.map((p) => p.body.id as string);
}

/** Publishes what earlier test files left in the shared outbox, so the killed relays' batches are this test's rows. */
async function drainLeftovers(): Promise<void> {
  const { config, pool, redis, logger } = engine.core;
  const relay = await startRelay({ config, pool, redis, logger });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const left = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL AND parked_at IS NULL AND destination LIKE 'kafka:%'`,
      );
      if (left.rows[0]!.n === 0) return;
      if (Date.now() > deadline) throw new Error(`${left.rows[0]!.n} leftover Kafka rows did not drain`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await relay.close();
  }
}

beforeAll(async () => {
  topic = await createTopic(testConfig());
  engine = await startTestEngine({ KAFKA_TOPIC_ORDER_EVENTS: topic });
  await drainLeftovers();
  notifications = await startTestNotifications(engine.core, topic);
}, 120_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await notifications?.stop();
  await engine?.close();
  if (topic !== undefined) await deleteTopic(testConfig(), topic);
});

describe('a relay killed between publish and mark', () => {
  it('loses nothing over 20 kills, and notifications act once per order', async () => {
    const product = await freshProduct(engine.core, 1_000, '5.00');
    const ids = await placeOrders(40, product, 'relay-kill');
    expect(await waitUntilFinal(engine.core.pool, ids, 60_000)).toEqual([]);
    for (let kill = 0; kill < 20; kill++) {
      await killBetweenPublishAndMark();
      if (kill % 5 === 4) ids.push(...(await placeOrders(5, product, `relay-kill-${kill}`)));
    }
    const survivor = spawnRelay({});
    expect(await waitUntilFinal(engine.core.pool, ids, 60_000)).toEqual([]);
    expect(await waitUntilDelivered(engine.core.pool, topic, ids, 60_000)).toBe(0);
    survivor.kill('SIGTERM');
    const committed = await committedEvents(engine.core.pool, topic, ids);
    const messages = await readTopic(engine.core.config, topic, allCommittedSeen(committed), 60_000);
    const report = compareDelivery(committed, messages);
    expect(report.missing).toEqual([]);
    expect(report.outOfOrder).toEqual([]);
    expect(report.duplicates).toBeGreaterThanOrEqual(20);
    const deadline = Date.now() + 30_000;
    let counts: number[] = [];
    while (Date.now() < deadline) {
      const rows = await engine.core.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM notifications WHERE order_id = ANY($1::uuid[]) GROUP BY order_id`,
        [ids],
      );
      counts = rows.rows.map((r) => r.n);
      if (counts.length === ids.length) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(counts.length).toBe(ids.length);
    expect(counts.every((n) => n === 1)).toBe(true);
  }, 300_000);
});

describe('poison rows and pruning', () => {
  it('parks a row the broker refuses, keeps the others flowing, and replays it on demand', async () => {
    const relay = await startRelay({
      config: { ...engine.core.config, RELAY_PUBLISH_ATTEMPTS_MAX: 2, RELAY_POLL_INTERVAL_MS: 100 },
      pool: engine.core.pool,
      redis: engine.core.redis,
      logger: engine.core.logger,
    });
    try {
      const orderId = crypto.randomUUID();
      const [poison] = await withTransaction(engine.core.pool, (client) =>
        insertOutbox(client, [
          {
            messageId: `${orderId}.event.poison`,
            orderId,
            correlationId: 'poison-test',
            type: 'order.created',
            // Over the broker's 1 MB message limit: refused as MESSAGE_TOO_LARGE, never an outage.
            payload: { blob: 'x'.repeat(1_200_000) },
            destination: `kafka:${topic}`,
          },
        ]),
      );
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && !(await listParked(engine.core.pool)).some((r) => r.id === poison!.id)) {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const parked = (await listParked(engine.core.pool)).find((r) => r.id === poison!.id);
      expect(parked).toMatchObject({ attempts: 2 });
      expect(parked?.last_error).toMatch(/larger than the max message size/);
      // Other events still flow past the parked one.
      const ids = await placeOrders(3, await freshProduct(engine.core, 5), 'after-poison');
      expect(await waitUntilFinal(engine.core.pool, ids, 30_000)).toEqual([]);
      expect(await waitUntilDelivered(engine.core.pool, topic, ids, 30_000)).toBe(0);
      expect(await replayParked(engine.core.pool, [poison!.id])).toBe(1);
      const back = await engine.core.pool.query(`SELECT parked_at, attempts FROM outbox WHERE id = $1`, [poison!.id]);
      expect(back.rows[0]).toMatchObject({ parked_at: null, attempts: 0 });
      await engine.core.pool.query(`UPDATE outbox SET parked_at = now() WHERE id = $1`, [poison!.id]);
    } finally {
      await relay.close();
    }
  }, 120_000);

  it('prunes delivered rows past the retention and never an undelivered one', async () => {
    const orderId = crypto.randomUUID();
    const rows = await withTransaction(engine.core.pool, (client) =>
      insertOutbox(client, [
        {
          messageId: `${orderId}.old-delivered`,
          orderId,
          correlationId: 'p',
          type: 'x',
          payload: {},
          destination: 'kafka:prune-test',
        },
        {
          messageId: `${orderId}.old-pending`,
          orderId,
          correlationId: 'p',
          type: 'x',
          payload: {},
          destination: 'kafka:prune-test',
        },
      ]),
    );
    await engine.core.pool.query(
      `UPDATE outbox SET created_at = now() - interval '30 days',
              published_at = CASE WHEN id = $1 THEN now() - interval '30 days' END,
              parked_at = CASE WHEN id = $2 THEN now() END
        WHERE id = ANY($3::bigint[])`,
      [rows[0]!.id, rows[1]!.id, rows.map((r) => r.id)],
    );
    const pruned = await pruneDelivered(engine.core.pool, 7 * 86_400_000, 100_000);
    expect(pruned).toBeGreaterThanOrEqual(1);
    const left = await engine.core.pool.query(`SELECT id FROM outbox WHERE id = ANY($1::bigint[])`, [
      rows.map((r) => r.id),
    ]);
    expect(left.rows.map((r) => r.id)).toEqual([rows[1]!.id]);
  });
});

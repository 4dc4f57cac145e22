// Bounded growth: under constant load, with every retention window shrunk to seconds, the tables
// that grow per message (outbox, inbox, notification_inbox, idempotency_keys) reach a plateau and
// stay there while orders keep flowing, and every invariant holds. The retention job runs as it
// does in production: the `prune` job of the relay's scheduler, every PRUNE_INTERVAL_MS.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInvariants, waitUntilFinal } from '../../chaos/invariants.ts';
import { createMetrics, type Metrics } from '../../src/platform/metrics.ts';
import { startRelay, type RunningRelay } from '../../src/relay/relay.worker.ts';
import { address, freshProduct, postJson, startTestEngine, type TestEngine } from '../support/engine.ts';
import { until } from '../support/harness.ts';
import { deleteTopic, kafkaOf, startTestNotifications } from '../support/kafka-topic.ts';
import { testConfig } from '../support/test-config.ts';

const loadSeconds = 30;
const ordersPerSecond = 5;
/** Samples before this are the warm-up: the first runs also prune what earlier test files left. */
const warmUpSeconds = 10;
const tables = ['outbox', 'inbox', 'notification_inbox', 'idempotency_keys'] as const;
type Table = (typeof tables)[number];
/** Rows a confirmed order writes to each table, at least (a placement, five events, eight inbox rows). */
const rowsPerOrderMin: Record<Table, number> = { outbox: 11, inbox: 8, notification_inbox: 5, idempotency_keys: 1 };

let engine: TestEngine;
let relay: RunningRelay;
let notifications: { stop(): Promise<void> };
let metrics: Metrics;
let topic: string;
const keyPrefix = `growth-${randomUUID().slice(0, 8)}`;

/** A topic whose log keeps records 2 s + 1 s: the notification inbox may go after 3 s. */
async function createShortTopic(): Promise<string> {
  const name = `test-retention-${randomUUID().slice(0, 8)}`;
  const admin = kafkaOf(testConfig()).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      {
        topic: name,
        numPartitions: 3,
        replicationFactor: 1,
        configEntries: [
          { name: 'retention.ms', value: '2000' },
          { name: 'segment.ms', value: '1000' },
        ],
      },
    ],
    waitForLeaders: true,
  });
  await admin.disconnect();
  return name;
}

beforeAll(async () => {
  topic = await createShortTopic();
  engine = await startTestEngine({
    KAFKA_TOPIC_ORDER_EVENTS: topic,
    OUTBOX_RETENTION_MS: '2000',
    INBOX_RETENTION_MS: '2000',
    NOTIFICATION_INBOX_RETENTION_MS: '3000',
    IDEMPOTENCY_KEY_TTL_MS: '2000',
    PRUNE_INTERVAL_MS: '1000',
    // BullMQ keeps a job's message from pruning while it holds the job: keep few.
    QUEUE_REMOVE_ON_COMPLETE_COUNT: '20',
    RELAY_POLL_INTERVAL_MS: '200',
  });
  metrics = createMetrics(false);
  const { core } = engine;
  relay = await startRelay({ config: core.config, pool: core.pool, redis: core.redis, logger: core.logger, metrics });
  notifications = await startTestNotifications(core, topic);
});
afterAll(async () => {
  await notifications?.stop();
  await relay?.close();
  await engine?.close();
  if (topic !== undefined) await deleteTopic(testConfig(), topic);
});

/** Rows of this test's orders in each table (other files' rows are left out). */
async function countRows(orderIds: string[]): Promise<Record<Table, number>> {
  const result = await engine.core.pool.query<Record<Table, number>>(
    `SELECT (SELECT count(*) FROM outbox WHERE key = ANY($1::text[]))::int AS outbox,
            (SELECT count(*) FROM inbox WHERE split_part(message_id, '.', 1) = ANY($1::text[]))::int AS inbox,
            (SELECT count(*) FROM notification_inbox WHERE order_id::text = ANY($1::text[]))::int AS notification_inbox,
            (SELECT count(*) FROM idempotency_keys WHERE key LIKE $2 || '-%')::int AS idempotency_keys`,
    [orderIds, keyPrefix],
  );
  return result.rows[0]!;
}

interface Sample {
  second: number;
  orders: number;
  rows: Record<Table, number>;
}

/** Places ordersPerSecond orders a second, each with its own Idempotency-Key, and samples every second. */
async function runLoad(product: string): Promise<{ orderIds: string[]; samples: Sample[] }> {
  const orderIds: string[] = [];
  const samples: Sample[] = [];
  const posts: Promise<void>[] = [];
  const start = Date.now();
  for (let n = 0; n < loadSeconds * ordersPerSecond; n++) {
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, start + (n * 1_000) / ordersPerSecond - Date.now())),
    );
    posts.push(
      postJson(
        `${engine.url}/api/v1/orders`,
        {
          user_id: `${keyPrefix}-${n}`,
          currency: 'USD',
          shipping_address: address,
          items: [{ product_id: product, quantity: 1 }],
        },
        { 'Idempotency-Key': `${keyPrefix}-${n}` },
      ).then((res) => {
        expect(res.status).toBe(202);
        orderIds.push(res.body.id as string);
      }),
    );
    if (n % ordersPerSecond === ordersPerSecond - 1) {
      samples.push({ second: (n + 1) / ordersPerSecond, orders: orderIds.length, rows: await countRows(orderIds) });
    }
  }
  await Promise.all(posts);
  return { orderIds, samples };
}

describe('retention under constant load', () => {
  it('holds the deduping tables and the outbox at a plateau while orders keep flowing', async () => {
    const product = await freshProduct(engine.core, 100_000);
    const { orderIds, samples } = await runLoad(product);
    const middle = warmUpSeconds + (loadSeconds - warmUpSeconds) / 2;
    const first = samples.filter((s) => s.second > warmUpSeconds && s.second <= middle);
    const second = samples.filter((s) => s.second > middle);
    const ordersInSecond = second.at(-1)!.orders - first.at(-1)!.orders;
    expect(ordersInSecond).toBeGreaterThanOrEqual(((loadSeconds - middle) * ordersPerSecond) / 2);
    for (const table of tables) {
      const peak = (part: Sample[]) => Math.max(...part.map((s) => s.rows[table]));
      // Without retention a table grows by every row the second half's orders write; with it, by
      // little more than noise. A quarter of those rows separates the two.
      const growth = peak(second) - peak(first);
      expect(growth, `${table} grew: ${samples.map((s) => s.rows[table]).join(' ')}`).toBeLessThanOrEqual(
        (ordersInSecond * rowsPerOrderMin[table]) / 4,
      );
    }

    expect(await waitUntilFinal(engine.core.pool, orderIds, 30_000)).toEqual([]);
    const report = await checkInvariants(engine.core.pool, orderIds);
    expect(report.violations).toEqual([]);
    expect(report.byStatus).toEqual({ confirmed: orderIds.length });
    // Every confirmed order notified once, though its events' inbox rows are long gone.
    await until(async () => {
      const sent = await engine.core.pool.query(`SELECT 1 FROM notifications WHERE order_id = ANY($1::uuid[])`, [
        orderIds,
      ]);
      return sent.rowCount === orderIds.length ? true : undefined;
    }, 20_000);

    // Once the load stops and the windows pass, what is left is what a rule still holds: inbox
    // rows of jobs BullMQ keeps (QUEUE_REMOVE_ON_COMPLETE_COUNT per queue), nothing else.
    const settled = await until(async () => {
      const rows = await countRows(orderIds);
      return rows.outbox === 0 && rows.notification_inbox === 0 && rows.idempotency_keys === 0 && rows.inbox <= 5 * 20
        ? rows
        : undefined;
    }, 20_000);
    expect(settled.inbox).toBeLessThanOrEqual(100);
    const pruned = await metrics.rowsPruned.get();
    for (const table of tables) {
      const value = pruned.values.find((v) => v.labels.table === table)?.value ?? 0;
      expect(value, `order_engine_retention_pruned_rows_total{table="${table}"}`).toBeGreaterThan(0);
    }
  }, 110_000);
});

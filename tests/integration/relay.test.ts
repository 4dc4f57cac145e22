// The outbox relay on the real broker: every committed event reaches the topic, per order in
// commit order, with two relays running; nothing is lost while Kafka is stopped; and the
// notifications consumer confirms each confirmed order exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntilFinal } from '../../chaos/invariants.ts';
import { startKafka, stopKafka } from '../../src/local-infra/kafka.local.ts';
import { startRelay, type RunningRelay } from '../../src/relay/relay.worker.ts';
import { address, freshProduct, getJson, postJson, startTestEngine, type TestEngine } from '../support/engine.ts';
import { testConfig } from '../support/test-config.ts';
import { createTopic, deleteTopic, readTopic, startTestNotifications } from '../support/kafka-topic.ts';
import {
  allCommittedSeen,
  committedEvents,
  compareDelivery,
  undeliveredCount,
  waitUntilDelivered,
} from '../support/relay-check.ts';

let engine: TestEngine;
let topic: string;
const relays: RunningRelay[] = [];
let notifications: { stop(): Promise<void> } | undefined;

async function startRelayInProcess(): Promise<RunningRelay> {
  const { config, pool, redis, logger } = engine.core;
  const relay = await startRelay({ config, pool, redis, logger });
  relays.push(relay);
  return relay;
}

async function readyWhen(
  url: string,
  done: (body: Awaited<ReturnType<typeof getJson>>['body']) => boolean,
  timeoutMs: number,
): ReturnType<typeof getJson> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ready = await getJson(url);
    if (done(ready.body) || Date.now() > deadline) return ready;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function placeOrders(count: number, products: string[], prefix: string): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < count) {
        const n = next++;
        const res = await postJson(
          `${engine.url}/api/v1/orders`,
          {
            user_id: n % 10 === 9 ? `test_decline_${prefix}` : `${prefix}-${n}`,
            currency: 'USD',
            items: [{ product_id: products[n % products.length]!, quantity: 1 }],
            shipping_address: address,
          },
          { 'X-Correlation-Id': `corr-${prefix}-${n}` },
        );
        expect(res.status).toBe(202);
        ids.push(res.body.id as string);
      }
    }),
  );
  return ids;
}

async function confirmationsFor(orderIds: string[]) {
  const result = await engine.core.pool.query<{ order_id: string; n: number }>(
    `SELECT o.id::text AS order_id, count(n.*)::int AS n FROM orders o
       LEFT JOIN notifications n ON n.order_id = o.id AND n.kind = 'order_confirmation'
      WHERE o.id = ANY($1::uuid[]) AND o.status = 'confirmed' GROUP BY o.id`,
    [orderIds],
  );
  return result.rows;
}

async function waitForConfirmations(orderIds: string[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await confirmationsFor(orderIds);
    if (rows.every((r) => r.n >= 1) || Date.now() > deadline) return rows;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  const overrides = { RELAY_BACKOFF_MS_MAX: '1000', RELAY_POLL_INTERVAL_MS: '200', WORKER_CONCURRENCY: '32' };
  topic = await createTopic(testConfig());
  engine = await startTestEngine({ ...overrides, KAFKA_TOPIC_ORDER_EVENTS: topic });
  notifications = await startTestNotifications(engine.core, topic);
}, 120_000);

afterAll(async () => {
  await notifications?.stop();
  for (const relay of relays) await relay.close();
  await engine?.close();
  if (topic !== undefined) await deleteTopic(engine.core.config, topic);
});

describe('the outbox relay', () => {
  it('delivers every event of 1,000 orders, in commit order per order, with two relays running', async () => {
    await startRelayInProcess();
    await startRelayInProcess();
    const products = await Promise.all(Array.from({ length: 4 }, () => freshProduct(engine.core, 300, '7.00')));
    const ids = await placeOrders(1_000, products, 'bulk');
    expect(await waitUntilFinal(engine.core.pool, ids, 180_000)).toEqual([]);
    expect(await waitUntilDelivered(engine.core.pool, topic, ids, 60_000)).toBe(0);
    const committed = await committedEvents(engine.core.pool, topic, ids);
    expect(committed.size).toBe(1_000);
    const messages = await readTopic(engine.core.config, topic, allCommittedSeen(committed), 120_000);
    const report = compareDelivery(committed, messages);
    expect(report.missing).toEqual([]);
    expect(report.outOfOrder).toEqual([]);
    // Keys are order ids; correlation ids travel from the API request to every event.
    const first = messages.find((m) => m.value.type === 'order.created')!;
    expect(first.value).toMatchObject({ order_id: first.key, schema_version: 1, id: first.eventId });
    const correlation = await engine.core.pool.query<{ id: string; correlation_id: string }>(
      `SELECT id::text, correlation_id FROM orders WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    const byOrder = new Map(correlation.rows.map((r) => [r.id, r.correlation_id]));
    expect([...byOrder.values()].every((c) => /^corr-bulk-\d+$/.test(c))).toBe(true);
    // (The topic may also carry orders of earlier test files that this engine's sweeper finished.)
    const ours = messages.filter((m) => byOrder.has(m.key));
    expect(ours.length).toBeGreaterThanOrEqual(5_000);
    expect(ours.filter((m) => m.correlationId !== byOrder.get(m.key))).toEqual([]);
    const confirmations = await waitForConfirmations(ids, 60_000);
    expect(confirmations.length).toBeGreaterThan(800);
    expect(confirmations.filter((c) => c.n !== 1)).toEqual([]);
  }, 400_000);

  it('keeps events while Kafka is stopped, reports degraded, and drains when it returns', async () => {
    if (relays.length === 0) await startRelayInProcess();
    const product = await freshProduct(engine.core, 500, '3.00');
    await stopKafka();
    try {
      const ids = await placeOrders(200, [product], 'outage');
      expect(await waitUntilFinal(engine.core.pool, ids, 120_000)).toEqual([]);
      const waiting = await undeliveredCount(engine.core.pool, topic, ids);
      expect(waiting).toBeGreaterThanOrEqual(200 * 4);
      // The relay learns of the outage when a send fails after kafkajs's retries (about 20 s):
      // /ready must say so by then, while Kafka is still down.
      const ready = await readyWhen(`${engine.url}/ready`, (body) => body.checks?.relay === 'degraded', 60_000);
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({
        status: 'degraded',
        checks: { postgres: 'ok', redis: 'ok', relay: 'degraded' },
      });
      const metrics = await (await fetch(`${engine.url}/metrics`)).text();
      expect(metrics).toMatch(/order_engine_outbox_depth\{destination="kafka"\} ([1-9]\d*)/);
      await startKafka();
      expect(await waitUntilDelivered(engine.core.pool, topic, ids, 120_000)).toBe(0);
      const committed = await committedEvents(engine.core.pool, topic, ids);
      const messages = await readTopic(engine.core.config, topic, allCommittedSeen(committed), 120_000);
      const report = compareDelivery(committed, messages);
      expect(report.missing).toEqual([]);
      expect(report.outOfOrder).toEqual([]);
      const confirmations = await waitForConfirmations(ids, 60_000);
      expect(confirmations.filter((c) => c.n !== 1)).toEqual([]);
    } finally {
      await startKafka();
    }
  }, 400_000);
});

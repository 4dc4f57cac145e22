// Issue 21, part 4: the queues on a real Redis Cluster. The test forms a cluster of its own (three
// masters, a replica each, on spare ports, files in a temporary directory) and runs the engine as
// separate OS processes with REDIS_CLUSTER_NODES: BullMQ's queues and workers, the relay's queue
// and heartbeat, and the API's rate limits all live on it; Redlock keeps its three nodes. Under
// load, with orders through every outcome, the master that serves BullMQ's slot is SIGKILLed; its
// replica takes over, the node is started again and rejoins as a replica. Nothing is lost: every
// order is final with its outcome, the invariants hold, every process keeps its pid, and every
// event reaches Kafka in order.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntilFinal } from '../../chaos/invariants.ts';
import { createCoupon } from '../../src/coupons/coupons.create.ts';
import { redisClusterNodePaths } from '../../src/local-infra/paths.ts';
import { livePidFromFile } from '../../src/local-infra/process.local.ts';
import {
  clusterLayout,
  clusterNodesOf,
  ensureRedisCluster,
  isClusterFormed,
  masterOfKey,
  startClusterNode,
  stopRedisCluster,
  type ClusterLayout,
} from '../../src/local-infra/redis-cluster.local.ts';
import { withRedis, type RedisNode } from '../../src/local-infra/redis.local.ts';
import { isPortOpen } from '../../src/local-infra/wait.ts';
import { placeOrder } from '../../src/orders/order.service.ts';
import { address, freshProduct, postJson } from '../support/engine.ts';
import { expectSurvivedAndSettled, placeOrders, startEngineProcesses, waitFor } from '../support/engine-processes.ts';
import { readTopic } from '../support/kafka-topic.ts';
import { allCommittedSeen, committedEvents, compareDelivery, waitUntilDelivered } from '../support/relay-check.ts';
import { useResilienceRig } from '../support/resilience-rig.ts';
import { testConfig } from '../support/test-config.ts';

const ordersTotal = 200;
const startedAt = Date.now();
const progress = (phase: string) =>
  console.log(`redis-cluster: ${((Date.now() - startedAt) / 1_000).toFixed(1)} s ${phase}`);

/** Six consecutive ports from `first` whose cluster bus ports (+10000) are free too. */
async function freeClusterPorts(first: number): Promise<number[]> {
  for (let base = first; base < first + 200; base += 6) {
    const ports = [0, 1, 2, 3, 4, 5].map((i) => base + i);
    const taken = await Promise.all(
      ports.flatMap((port) => [isPortOpen('127.0.0.1', port, 200), isPortOpen('127.0.0.1', port + 10_000, 200)]),
    );
    if (!taken.some(Boolean)) return ports;
  }
  throw new Error(`no six free ports (and bus ports) for a Redis Cluster from ${first}`);
}

// Filled in by the first beforeAll, read by the rig's set-up that runs after it.
const coreOverrides: Record<string, string> = {};
let layout: ClusterLayout | undefined;
let baseDir: string | undefined;
beforeAll(async () => {
  baseDir = mkdtempSync(join(tmpdir(), 'order-engine-cluster-'));
  const ports = await freeClusterPorts(7400);
  layout = clusterLayout(
    ports.map((port) => `redis://127.0.0.1:${port}`),
    baseDir,
  );
  await ensureRedisCluster(layout, (line) => console.log(`redis-cluster: ${line}`));
  coreOverrides.REDIS_CLUSTER_NODES = layout.nodes.map((n) => n.url).join(',');
}, 90_000);
afterAll(async () => {
  if (layout !== undefined) await stopRedisCluster(layout);
  if (baseDir !== undefined) rmSync(baseDir, { recursive: true, force: true });
});
const rig = useResilienceRig({ overrides: coreOverrides });

interface Outcome {
  id: string;
  status: string;
  reason: string | null;
}

/**
 * A POST as a client sends it through a failover: a 503 (with Retry-After: the rate limits' slot may
 * be on the master that is gone) is tried again, with the same Idempotency-Key.
 */
async function postRetrying(url: string, body: unknown, key: string) {
  for (let attempt = 1; ; attempt++) {
    const res = await postJson(url, body, { 'idempotency-key': key });
    if (res.status !== 503 || attempt >= 30) return res;
    expect(res.headers.get('retry-after')).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function place(apiUrl: string, userId: string, product: string, extra: Record<string, unknown> = {}) {
  const body = { user_id: userId, currency: 'USD', items: [{ product_id: product, quantity: 1 }] };
  const res = await postRetrying(`${apiUrl}/api/v1/orders`, { ...body, shipping_address: address, ...extra }, userId);
  if (typeof res.body.id !== 'string') throw new Error(`placing ${userId}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

async function stateOf(id: string): Promise<string | undefined> {
  const row = await rig.core.pool.query<{ state: string }>('SELECT state FROM orders WHERE id = $1', [id]);
  return row.rows[0]?.state;
}

/** One order per outcome of the machine, through the API (an expiry through the orders service). */
async function placeEveryOutcome(apiUrl: string): Promise<Outcome[]> {
  const product = await freshProduct(rig.core, 50, '20.00');
  const scarce = await freshProduct(rig.core, 1, '20.00');
  const code = `CL${Date.now().toString(36).toUpperCase()}`;
  const coupon = await createCoupon(rig.core.pool, { code, kind: 'percent', percentOff: '10', redemptionsMax: 5 });
  expect(coupon.ok).toBe(true);
  const outcomes: Outcome[] = [
    { id: await place(apiUrl, 'cluster-coupon', product, { coupon_code: code }), status: 'confirmed', reason: null },
    { id: await place(apiUrl, 'test_transient_2_cl', product), status: 'confirmed', reason: null },
    { id: await place(apiUrl, 'test_lost_response_cl', product), status: 'confirmed', reason: null },
    {
      id: await place(apiUrl, 'cluster-greedy', scarce, { items: [{ product_id: scarce, quantity: 2 }] }),
      status: 'rejected',
      reason: 'out_of_stock',
    },
    {
      id: await place(apiUrl, 'cluster-no-coupon', product, { coupon_code: 'NOSUCHCOUPON' }),
      status: 'rejected',
      reason: 'coupon_invalid',
    },
    { id: await place(apiUrl, 'test_decline_cl', product), status: 'failed', reason: 'payment_declined' },
    { id: await place(apiUrl, 'test_timeout_cl', product), status: 'failed', reason: 'payment_timeout' },
  ];
  const expiring = await placeOrder(
    {
      pool: rig.core.pool,
      dispatcher: rig.core.dispatcher,
      topic: rig.topic,
      reservationTtlMs: 1_000,
      paymentDeadlineMs: 600_000,
    },
    {
      userId: 'test_timeout_cl_expiry',
      currency: 'USD',
      items: [{ product_id: product, quantity: 1 }],
      couponCode: null,
      shippingAddress: address,
      correlationId: 'cluster-expiry',
    },
  );
  if (!expiring.ok || expiring.value === null) throw new Error('placing the expiring order failed');
  outcomes.push({ id: expiring.value.id, status: 'expired', reason: 'reservation_expired' });
  outcomes.push(...(await cancelTwice(apiUrl, product)));
  return outcomes;
}

/** A cancel while the payment is pending, and one after confirmation (refund, reversing posting). */
async function cancelTwice(apiUrl: string, product: string): Promise<Outcome[]> {
  const pending = await place(apiUrl, 'test_timeout_cl_cancel', product);
  await waitFor('the order to wait in charging', async () => (await stateOf(pending)) === 'charging', 30_000);
  expect((await postRetrying(`${apiUrl}/api/v1/orders/${pending}/cancel`, {}, `cancel-${pending}`)).status).toBe(202);
  const confirmed = await place(apiUrl, 'cluster-regret', product);
  await waitFor('the order to confirm', async () => (await stateOf(confirmed)) === 'confirmed', 30_000);
  expect((await postRetrying(`${apiUrl}/api/v1/orders/${confirmed}/cancel`, {}, `cancel-${confirmed}`)).status).toBe(
    202,
  );
  return [
    { id: pending, status: 'cancelled', reason: 'cancelled_by_customer' },
    { id: confirmed, status: 'cancelled', reason: 'cancelled_by_customer' },
  ];
}

/** A read of the cluster's own view, tried again on a loaded machine (its connections time out fast). */
async function retrying<T>(what: string, read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (attempt >= 10) throw new Error(`${what}: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
}

/** SIGKILLs the master that serves `key`; resolves once another node serves its slot and the cluster is ok. */
async function killMasterOf(key: string): Promise<{ killed: RedisNode; promoted: string; failoverMs: number }> {
  const nodes = layout!.nodes;
  const master = await retrying(`the master of ${key}`, () => masterOfKey(nodes[0]!, key));
  const killed = nodes.find((n) => n.address === master.address)!;
  const pid = livePidFromFile(redisClusterNodePaths(killed.port, layout!.baseDir).pidFile, 'redis-server');
  if (pid === undefined) throw new Error(`no pid of ours for the master ${killed.address}`);
  const killedAt = Date.now();
  process.kill(pid, 'SIGKILL');
  const witness = nodes.find((n) => n !== killed)!;
  let promoted = '';
  await waitFor(
    `a replica to take over ${key}'s slot from ${killed.address}`,
    async () => {
      promoted = (await masterOfKey(witness, key)).address;
      return promoted !== killed.address;
    },
    60_000,
  );
  return { killed, promoted, failoverMs: Date.now() - killedAt };
}

async function expectOutcomes(outcomes: Outcome[]): Promise<void> {
  // The load's orders are final; a cancel after confirmation may still be refunding on a loaded machine.
  expect(
    await waitUntilFinal(
      rig.core.pool,
      outcomes.map((o) => o.id),
      60_000,
    ),
  ).toEqual([]);
  const rows = await rig.core.pool.query<Outcome & { reason: string | null }>(
    'SELECT id::text, status, failure_reason AS reason FROM orders WHERE id = ANY($1::uuid[])',
    [outcomes.map((o) => o.id)],
  );
  const byId = new Map(rows.rows.map((r) => [r.id, r]));
  expect(outcomes.map((o) => byId.get(o.id))).toEqual(outcomes);
}

describe('the queues on a Redis Cluster that loses a master mid-run', () => {
  it('reaches every outcome, loses nothing, and relays every event', async () => {
    const prefix = rig.core.config.QUEUE_PREFIX;
    const engine = await startEngineProcesses(
      {
        QUEUE_PREFIX: prefix,
        KAFKA_TOPIC_ORDER_EVENTS: rig.topic,
        REDIS_CLUSTER_NODES: coreOverrides.REDIS_CLUSTER_NODES!,
        // A silent provider gives up after about three seconds (payment_timeout).
        QUEUE_ATTEMPTS: '6',
      },
      rig.processes,
    );
    progress('engine up on the cluster');
    const products = [await freshProduct(rig.core, 150, '9.99'), await freshProduct(rig.core, 150, '4.50')];
    const load = placeOrders(engine.apiUrl, products, { count: ordersTotal, concurrency: 8, ratePerSecond: 20 }, 'cl');
    const outcomesPlaced = placeEveryOutcome(engine.apiUrl);
    outcomesPlaced.catch(() => undefined); // awaited below; this only keeps it from counting as unhandled meanwhile
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const failover = await killMasterOf(`{${prefix}}:orders:meta`);
    progress(`master ${failover.killed.address} killed; ${failover.promoted} took over in ${failover.failoverMs} ms`);
    await startClusterNode(layout!, failover.killed);
    await waitFor('the killed node to rejoin', () => isClusterFormed(layout!), 60_000);
    const views = await retrying('the rejoined node', () => clusterNodesOf(failover.killed.url));
    const rejoined = views.find((v) => v.address === failover.killed.address);
    expect(rejoined?.role).toBe('replica');
    progress('the killed node rejoined as a replica');
    const outcomes = await outcomesPlaced;
    progress(`${outcomes.length} orders placed for the outcomes`);

    const report = await load;
    console.log('redis-cluster: answers', report.statuses);
    await expectSurvivedAndSettled(rig.core.pool, engine, report, ordersTotal, 120_000);
    await expectOutcomes(outcomes);
    progress('every order final, invariants hold, every process kept its pid');
    await expectRateLimitsOnCluster(prefix);
    await expectEveryEventRelayed([...(await loadOrderIds(report.userIds)), ...outcomes.map((o) => o.id)]);
    progress('every event on Kafka, in order');
  }, 300_000);
});

async function loadOrderIds(userIds: string[]): Promise<string[]> {
  const rows = await rig.core.pool.query<{ id: string }>('SELECT id::text FROM orders WHERE user_id = ANY($1)', [
    userIds,
  ]);
  return rows.rows.map((r) => r.id);
}

/** The API counted its callers on the cluster (the rate limits' script ran there). */
async function expectRateLimitsOnCluster(prefix: string): Promise<void> {
  const tag = `{${prefix}:rl}`;
  const master = await retrying(`the master of ${tag}`, () => masterOfKey(layout!.nodes[0]!, tag));
  const node = layout!.nodes.find((n) => n.address === master.address)!;
  const keys = await retrying('the rate limit keys', () => withRedis(node.url, (client) => client.keys(`${tag}:*`)));
  expect(keys.some((k) => k.startsWith(`${tag}:orders:`))).toBe(true);
}

async function expectEveryEventRelayed(orderIds: string[]): Promise<void> {
  expect(await waitUntilDelivered(rig.core.pool, rig.topic, orderIds, 60_000)).toBe(0);
  const committed = await committedEvents(rig.core.pool, rig.topic, orderIds);
  const messages = await readTopic(testConfig(), rig.topic, allCommittedSeen(committed), 60_000);
  const delivery = compareDelivery(committed, messages);
  expect(delivery.missing).toEqual([]);
  expect(delivery.outOfOrder).toEqual([]);
}

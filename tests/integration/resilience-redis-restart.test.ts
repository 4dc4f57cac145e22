// Issue 16, BullMQ's Redis goes away mid-load and comes back empty. The test runs a redis-server of
// its own on a spare port, so the shared nodes stay untouched. Every engine process must survive,
// and the orders whose jobs Redis lost complete through the outbox's redelivery (the sweeper).
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalStatuses } from '../../machines/order.status.ts';
import { isPortOpen } from '../../src/local-infra/wait.ts';
import { freshProduct } from '../support/engine.ts';
import {
  freePort,
  placeOrders,
  waitFor,
  startEngineProcesses,
  expectSurvivedAndSettled,
} from '../support/engine-processes.ts';
import { useResilienceRig } from '../support/resilience-rig.ts';

const ordersTotal = 300;
const redisPort = 6399;
const redisUrl = `redis://127.0.0.1:${redisPort}`;

let redis: ChildProcess | null = null;

/** A redis-server of this test's own, without persistence: each start is an empty Redis. */
async function startRedis(): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  await waitFor(`redis-server on ${redisPort}`, () => isPortOpen('127.0.0.1', redisPort, 500), 10_000);
  return child;
}

function stopRedis(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

// Registered before the rig: the Redis starts before the core deps that point at it, and stops after them.
beforeAll(async () => {
  if (await isPortOpen('127.0.0.1', redisPort, 500)) {
    throw new Error(`port ${redisPort} is taken; this test starts (and stops) a Redis of its own there`);
  }
  redis = await startRedis();
}, 60_000);
afterAll(async () => {
  if (redis !== null) await stopRedis(redis);
});
const rig = useResilienceRig({ overrides: { REDIS_URL: redisUrl } });

describe("BullMQ's Redis stopped and started again empty under load", () => {
  it('leaves every process running and completes every order through the outbox', async () => {
    // One worker serves /health on a port of its own, to see it name the Redis that is down.
    const metricsPort = await freePort();
    const engine = await startEngineProcesses(
      {
        QUEUE_PREFIX: rig.core.config.QUEUE_PREFIX,
        KAFKA_TOPIC_ORDER_EVENTS: rig.topic,
        REDIS_URL: redisUrl,
        // A provider that takes its time keeps orders in flight (their jobs in Redis) when it stops.
        PAYMENT_SIM_LATENCY_MS_MIN: '300',
        PAYMENT_SIM_LATENCY_MS_MAX: '600',
      },
      rig.processes,
      { 'worker-orders': { METRICS_PORT: String(metricsPort) } },
    );
    const health = async () => {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/health`);
      return { status: res.status, body: (await res.json()) as { dependencies: Record<string, string> } };
    };
    const products = [await freshProduct(rig.core, 200, '9.99'), await freshProduct(rig.core, 200, '4.50')];

    const load = placeOrders(
      engine.apiUrl,
      products,
      { count: ordersTotal, concurrency: 12, ratePerSecond: 20 },
      'redis-loss',
    );
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    // Orders in flight now have jobs (or answers to them) that the empty Redis will not have.
    const inFlight = await rig.core.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM orders WHERE user_id LIKE 'redis-loss-%'
         AND status <> ALL($1::text[])`,
      [[...finalStatuses]],
    );
    await stopRedis(redis!);
    const dependency = `redis 127.0.0.1:${redisPort}`;
    await waitFor('/health to name the Redis that is down', async () => (await health()).status === 503, 3_000);
    expect((await health()).body.dependencies[dependency]).toBe('down');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    redis = await startRedis();
    await waitFor('/health to see Redis back', async () => (await health()).status === 200, 15_000);
    expect((await health()).body.dependencies[dependency]).toBe('ok');
    const report = await load;
    console.log('resilience-redis-restart: answers', report.statuses);

    expect(inFlight.rows[0]!.n).toBeGreaterThan(0);
    await expectSurvivedAndSettled(rig.core.pool, engine, report, ordersTotal, 120_000);
    const said = rig.processes.flatMap((p) =>
      p.output.filter((l) => l.includes(`redis 127.0.0.1:${redisPort} unreachable`)),
    );
    expect(said.length).toBeGreaterThan(0);
  }, 300_000);
});

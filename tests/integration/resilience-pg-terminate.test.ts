// Issue 16, first acceptance: the engine as six OS processes under a load of 300 orders, while
// every backend of its database is terminated five times, three seconds apart. No process may die
// of it (same pids at the end), every order reaches a final state, and the invariants hold.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { checkInvariants, waitUntilFinal } from '../../chaos/invariants.ts';
import type { CoreDeps } from '../../src/main/core-deps.ts';
import { freshProduct } from '../support/engine.ts';
import {
  adminClient,
  deaths,
  engineRoles,
  freePort,
  isRunning,
  orderIdsOf,
  placeOrders,
  processEnv,
  spawnRole,
  stopAll,
  terminateAllBackends,
  waitReady,
  type EngineProcess,
} from '../support/engine-processes.ts';
import { createTestDeps } from '../support/harness.ts';
import { createTopic, deleteTopic } from '../support/kafka-topic.ts';
import { testConfig } from '../support/test-config.ts';

const ordersTotal = 300;
const cuts = 5;
const cutIntervalMs = 3_000;

let core: CoreDeps;
let admin: pg.Client;
let topic: string;
const processes: EngineProcess[] = [];

beforeAll(async () => {
  topic = await createTopic(testConfig());
  core = createTestDeps({ KAFKA_TOPIC_ORDER_EVENTS: topic });
  admin = await adminClient();
}, 60_000);

afterAll(async () => {
  await stopAll(processes);
  await core?.close();
  await admin?.end();
  if (topic !== undefined) await deleteTopic(testConfig(), topic);
});

describe('every backend of the engine database terminated five times under load', () => {
  it('leaves every process running, every order final and the books balanced', async () => {
    const port = await freePort();
    const env = processEnv({
      QUEUE_PREFIX: core.config.QUEUE_PREFIX,
      KAFKA_TOPIC_ORDER_EVENTS: topic,
      HTTP_PORT: String(port),
    });
    for (const { role, entry, args } of engineRoles) processes.push(spawnRole(role, entry, args, env));
    const apiUrl = `http://127.0.0.1:${port}`;
    await waitReady(apiUrl);
    const products = [
      await freshProduct(core, 150, '9.99'),
      await freshProduct(core, 150, '4.50'),
      await freshProduct(core, 100, '19.00'),
    ];
    const pids = processes.map((p) => p.pid);

    const load = placeOrders(apiUrl, products, ordersTotal, 12, 'pg-cut');
    let terminated = 0;
    for (let cut = 0; cut < cuts; cut++) {
      await new Promise((resolve) => setTimeout(resolve, cut === 0 ? 1_000 : cutIntervalMs));
      terminated += await terminateAllBackends(admin);
    }
    const report = await load;
    console.log(`resilience-pg-terminate: ${terminated} backends terminated; answers`, report.statuses);

    const ids = await orderIdsOf(core.pool, report.userIds);
    expect(ids.length).toBeGreaterThanOrEqual(ordersTotal * 0.9);
    expect(terminated).toBeGreaterThan(cuts * processes.length);
    expect(await waitUntilFinal(core.pool, ids, 120_000)).toEqual([]);
    const invariants = await checkInvariants(core.pool, ids);
    expect(invariants.violations).toEqual([]);
    expect(invariants.byStatus.confirmed ?? 0).toBeGreaterThan(0);

    expect(deaths(processes)).toEqual([]);
    expect(processes.filter(isRunning).map((p) => p.pid)).toEqual(pids);
    // The outage log said each cut, not each failed attempt.
    const outageLines = processes.flatMap((p) => p.output.filter((l) => l.includes('unreachable; waiting for it')));
    expect(outageLines.length).toBeLessThan(cuts * processes.length * 4);
  }, 300_000);
});

// Issue 16, first acceptance: the engine as six OS processes under a load of 300 orders, while
// every backend of its database is terminated five times, three seconds apart. No process may die
// of it (same pids at the end), every order reaches a final state, and the invariants hold.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { CoreDeps } from '../../src/main/core-deps.ts';
import { freshProduct } from '../support/engine.ts';
import {
  adminClient,
  placeOrders,
  stopAll,
  terminateAllBackends,
  startEngineProcesses,
  expectSurvivedAndSettled,
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
    const engine = await startEngineProcesses(
      { QUEUE_PREFIX: core.config.QUEUE_PREFIX, KAFKA_TOPIC_ORDER_EVENTS: topic },
      processes,
    );
    const products = [
      await freshProduct(core, 150, '9.99'),
      await freshProduct(core, 150, '4.50'),
      await freshProduct(core, 100, '19.00'),
    ];

    const load = placeOrders(
      engine.apiUrl,
      products,
      { count: ordersTotal, concurrency: 12, ratePerSecond: 20 },
      'pg-cut',
    );
    let loading = true;
    void load.finally(() => (loading = false));
    let terminated = 0;
    let cutsUnderLoad = 0;
    for (let cut = 0; cut < cuts; cut++) {
      await new Promise((resolve) => setTimeout(resolve, cut === 0 ? 1_000 : cutIntervalMs));
      if (loading) cutsUnderLoad++;
      terminated += await terminateAllBackends(admin);
    }
    const report = await load;
    console.log(`resilience-pg-terminate: ${terminated} backends terminated; answers`, report.statuses);

    expect(cutsUnderLoad).toBeGreaterThanOrEqual(3);
    expect(terminated).toBeGreaterThan(cuts * processes.length);
    await expectSurvivedAndSettled(core.pool, engine, report, ordersTotal, 120_000);
    // The outage log said each cut, not each failed attempt.
    const outageLines = processes.flatMap((p) => p.output.filter((l) => l.includes('unreachable; waiting for it')));
    expect(outageLines.length).toBeLessThan(cuts * processes.length * 4);
  }, 300_000);
});

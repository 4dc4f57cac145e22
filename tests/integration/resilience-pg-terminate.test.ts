// Issue 16, first acceptance: the engine as six OS processes under a load of 300 orders, while
// every backend of its database is terminated five times, three seconds apart. No process may die
// of it (same pids at the end), every order reaches a final state, and the invariants hold.
import { describe, expect, it } from 'vitest';
import { freshProduct } from '../support/engine.ts';
import {
  placeOrders,
  terminateAllBackends,
  startEngineProcesses,
  expectSurvivedAndSettled,
} from '../support/engine-processes.ts';
import { useResilienceRig } from '../support/resilience-rig.ts';

const ordersTotal = 300;
const cuts = 5;
const cutIntervalMs = 3_000;

const rig = useResilienceRig({ admin: true });

describe('every backend of the engine database terminated five times under load', () => {
  it('leaves every process running, every order final and the books balanced', async () => {
    const engine = await startEngineProcesses(
      { QUEUE_PREFIX: rig.core.config.QUEUE_PREFIX, KAFKA_TOPIC_ORDER_EVENTS: rig.topic },
      rig.processes,
    );
    const products = [
      await freshProduct(rig.core, 150, '9.99'),
      await freshProduct(rig.core, 150, '4.50'),
      await freshProduct(rig.core, 100, '19.00'),
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
      terminated += await terminateAllBackends(rig.admin);
    }
    const report = await load;
    console.log(`resilience-pg-terminate: ${terminated} backends terminated; answers`, report.statuses);

    expect(cutsUnderLoad).toBeGreaterThanOrEqual(3);
    expect(terminated).toBeGreaterThan(cuts * rig.processes.length);
    await expectSurvivedAndSettled(rig.core.pool, engine, report, ordersTotal, 120_000);
    // The outage log said each cut, not each failed attempt.
    const outageLines = rig.processes.flatMap((p) => p.output.filter((l) => l.includes('unreachable; waiting for it')));
    expect(outageLines.length).toBeLessThan(cuts * rig.processes.length * 4);
  }, 300_000);
});

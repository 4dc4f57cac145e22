// A worker process SIGKILLed while jobs are in flight, then started again: every order still
// ends final, the ledger balances, nothing is charged twice. BullMQ's stalled-job check hands
// the killed process's jobs to the new one; the inboxes make the re-runs harmless.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInvariants, waitUntilFinal } from '../../chaos/invariants.ts';
import { address, freshProduct, postJson, startTestEngine, type TestEngine } from '../support/engine.ts';
import { testDatabaseUrl } from '../support/test-config.ts';

let engine: TestEngine;
const children: ChildProcess[] = [];

function startWorkerProcess(prefix: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/worker.main.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: testDatabaseUrl(),
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'silent',
      QUEUE_LOCK_DURATION_MS: '3000',
      QUEUE_STALLED_INTERVAL_MS: '1000',
      QUEUE_BACKOFF_MS: '50',
      OUTBOX_SWEEP_INTERVAL_MS: '200',
      OUTBOX_SWEEP_AGE_MS: '500',
      PAYMENT_SIM_LATENCY_MS_MIN: '20',
      PAYMENT_SIM_LATENCY_MS_MAX: '80',
      PAYMENT_SIM_TRANSIENT_RATE: '0.1',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  return child;
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function activeJobs(): Promise<number> {
  const counts = await Promise.all([...engine.core.queues.values()].map((queue) => queue.getActiveCount()));
  return counts.reduce((a, b) => a + b, 0);
}

beforeAll(async () => {
  // The API only: the workers run in child processes that the test kills.
  engine = await startTestEngine({}, { roles: [] });
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await engine?.close();
});

describe('a worker killed mid-job', () => {
  it('leaves every order final and the books balanced after a restart', async () => {
    const prefix = engine.core.config.QUEUE_PREFIX;
    const products = [await freshProduct(engine.core, 20, '9.99'), await freshProduct(engine.core, 10, '4.50')];
    let worker = startWorkerProcess(prefix);
    const ids: string[] = [];
    let killsWithJobsInFlight = 0;
    for (let round = 0; round < 3; round++) {
      const placed = await Promise.all(
        Array.from({ length: 20 }, (_, n) =>
          postJson(`${engine.url}/api/v1/orders`, {
            user_id: `crash-${round}-${n}`,
            currency: 'USD',
            items: [{ product_id: products[n % 2]!, quantity: 1 + (n % 3) }],
            shipping_address: address,
          }),
        ),
      );
      ids.push(...placed.map((p) => p.body.id as string));
      // Kill while the pipeline is busy: wait (up to ~30 s: on a loaded machine the new process takes
      // a while to boot) until some job is active.
      for (let i = 0; i < 3_000 && (await activeJobs()) === 0; i++) await new Promise((r) => setTimeout(r, 10));
      if ((await activeJobs()) > 0) killsWithJobsInFlight++;
      await killed(worker);
      worker = startWorkerProcess(prefix);
    }
    expect(killsWithJobsInFlight).toBeGreaterThan(0);
    expect(await waitUntilFinal(engine.core.pool, ids, 90_000)).toEqual([]);
    const report = await checkInvariants(engine.core.pool, ids);
    expect(report.violations).toEqual([]);
    expect(report.ordersChecked).toBe(60);
    expect(report.byStatus.confirmed ?? 0).toBeGreaterThan(0);
  }, 150_000);
});

// Each business invariant broken on purpose, inside one transaction that is rolled back: the
// periodic check's gauge moves, and the matching alert rule of prometheus/alerts.yml fires in
// `promtool test rules` fed with the gauge's value before and after. Also: every process's
// scrape passes `promtool check metrics`. promtool comes from Debian's prometheus package.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyInvariants, readInvariants } from '../../src/observability/invariants.check.ts';
import type { CoreDeps } from '../../src/main/core-deps.ts';
import { createMetrics } from '../../src/platform/metrics.ts';
import type { Client } from '../../src/platform/db.ts';
import { freshProduct } from '../support/engine.ts';
import { createTestDeps } from '../support/harness.ts';
import { createApiApp, listen } from '../../src/main/api-server.ts';
import { serveMetrics } from '../../src/platform/metrics-server.ts';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';

const promtool = process.env.PROMTOOL_PATH ?? '/usr/bin/promtool';
const alertsFile = new URL('../../prometheus/alerts.yml', import.meta.url).pathname;
let core: CoreDeps;

beforeAll(() => {
  if (!existsSync(promtool)) throw new Error(`promtool is missing at ${promtool}: run apt-get install -y prometheus`);
  core = createTestDeps();
});
afterAll(async () => {
  await core?.close();
});

/** The alert rules without annotations, so a generated test names only the alert and its labels. */
function rulesWithoutAnnotations(): string {
  const out: string[] = [];
  let skipDeeperThan = -1;
  for (const line of readFileSync(alertsFile, 'utf8').split('\n')) {
    const indent = line.length - line.trimStart().length;
    if (skipDeeperThan >= 0 && (indent > skipDeeperThan || line.trim() === '')) continue;
    skipDeeperThan = line.trim().startsWith('annotations:') ? indent : -1;
    if (skipDeeperThan < 0) out.push(line);
  }
  return out.join('\n');
}

interface AlertCase {
  alert: string;
  series: string;
  before: number;
  after: number;
  labels: Record<string, string>;
}

/** Runs promtool on one generated test: the series is `before`, then `after` for ten minutes. */
function promtoolFires(c: AlertCase): { status: number | null; output: string } {
  const directory = mkdtempSync(join(tmpdir(), 'oe-alerts-'));
  writeFileSync(join(directory, 'alerts.yml'), rulesWithoutAnnotations());
  const values = [c.before, ...Array.from({ length: 10 }, () => c.after)].join(' ');
  const test = {
    rule_files: ['alerts.yml'],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: [{ series: c.series, values }],
        alert_rule_test: [
          { eval_time: '0m', alertname: c.alert, exp_alerts: [] },
          { eval_time: '9m', alertname: c.alert, exp_alerts: [{ exp_labels: c.labels }] },
        ],
      },
    ],
  };
  // JSON is YAML: promtool reads it as is.
  writeFileSync(join(directory, 'generated.test.yml'), JSON.stringify(test, null, 2));
  const run = spawnSync(promtool, ['test', 'rules', 'generated.test.yml'], { cwd: directory, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

async function breakEverything(client: Client, productId: string): Promise<void> {
  // Ledger: one debit with no credit, the balance trigger switched off for this transaction only.
  await client.query(`SET LOCAL session_replication_role = replica`);
  const transactionId = randomUUID();
  await client.query(
    `INSERT INTO ledger_accounts (id, kind) VALUES ('asset:broken-test', 'asset') ON CONFLICT DO NOTHING`,
  );
  await client.query(
    `INSERT INTO ledger_transactions (id, order_id, kind, description) VALUES ($1, $2, 'order.payment', 'broken on purpose')`,
    [transactionId, randomUUID()],
  );
  await client.query(
    `INSERT INTO ledger_entries (transaction_id, account_id, direction, amount, currency)
     VALUES ($1, 'asset:broken-test', 'debit', 7.5, 'USD')`,
    [transactionId],
  );
  await client.query(`SET LOCAL session_replication_role = origin`);
  // Stock: three units sold beyond on hand, the conservation checks dropped in this transaction.
  await client.query(`ALTER TABLE stock DROP CONSTRAINT stock_conserved, DROP CONSTRAINT stock_held_within_on_hand`);
  await client.query(`UPDATE stock SET sold = on_hand + 3 WHERE product_id = $1`, [productId]);
  // An order that ended but still holds two units, a stuck one untouched for an hour, and one
  // halted in needs_attention (never counted as stuck: nothing will move it but an operator).
  const ended = randomUUID();
  const stuck = randomUUID();
  for (const [id, status, state] of [
    [ended, 'cancelled', 'cancelled'],
    [stuck, 'pending', 'charging'],
    [randomUUID(), 'needs_attention', 'needsAttention'],
  ]) {
    await client.query(
      `INSERT INTO orders (id, user_id, currency, status, state, snapshot, version, items, subtotal, total,
                           shipping_address, correlation_id, updated_at)
       VALUES ($1, 'broken', 'USD', $2, $3, '{}', 1, '[]', 1, 1, '{}', 'broken', now() - interval '1 hour')`,
      [id, status, state],
    );
  }
  await client.query(`INSERT INTO reservation_groups (order_id, status) VALUES ($1, 'held')`, [ended]);
  await client.query(
    `INSERT INTO reservations (order_id, product_id, quantity, status, expires_at) VALUES ($1, $2, 2, 'held', now())`,
    [ended, productId],
  );
  // Two successful captures for one order at the provider.
  const charged = randomUUID();
  for (const n of [1, 2]) {
    await client.query(
      `INSERT INTO provider_charges (id, idempotency_key, kind, order_id, amount, currency, status)
       VALUES ($1, $2, 'charge', $3, 10, 'USD', 'succeeded')`,
      [`ch-${randomUUID()}`, `${charged}.charge.${n}`, charged],
    );
  }
}

/** A series' value in a scrape; a series not exported (no ledger entry in a currency yet) is 0. */
function gauge(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('the business invariants as gauges and alerts', () => {
  it('moves each gauge when its invariant breaks, and its alert rule fires', async () => {
    const productId = await freshProduct(core, 5);
    const client = await core.pool.connect();
    const before = createMetrics(false);
    const after = createMetrics(false);
    try {
      await client.query('BEGIN');
      applyInvariants(before, await readInvariants(client, 1_000), ['orders']);
      await breakEverything(client, productId);
      applyInvariants(after, await readInvariants(client, 1_000), ['orders']);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    const was = await before.registry.metrics();
    const now = await after.registry.metrics();
    const cases: AlertCase[] = [
      {
        alert: 'LedgerImbalanced',
        series: 'order_engine_invariant_ledger_imbalance{currency="USD"}',
        before: 0,
        after: 0,
        labels: { severity: 'page', currency: 'USD' },
      },
      {
        alert: 'StockOversold',
        series: 'order_engine_invariant_oversold_units',
        before: 0,
        after: 0,
        labels: { severity: 'page' },
      },
      {
        alert: 'StockNotConserved',
        series: 'order_engine_invariant_holds{invariant="stock_conserved"}',
        before: 1,
        after: 1,
        labels: { severity: 'page', invariant: 'stock_conserved' },
      },
      {
        alert: 'FinalOrdersHoldStock',
        series: 'order_engine_invariant_final_order_held_units',
        before: 0,
        after: 0,
        labels: { severity: 'page' },
      },
      { alert: 'OrdersStuck', series: 'order_engine_stuck_orders', before: 0, after: 0, labels: { severity: 'page' } },
      {
        alert: 'OrdersNeedAttention',
        series: 'order_engine_orders_needing_attention',
        before: 0,
        after: 0,
        labels: { severity: 'page' },
      },
      {
        alert: 'DoubleCharge',
        series: 'order_engine_invariant_double_charges',
        before: 0,
        after: 0,
        labels: { severity: 'page' },
      },
    ];
    for (const c of cases) {
      c.before = gauge(was, c.series);
      c.after = gauge(now, c.series);
    }
    // What each break should have moved, by how much.
    expect(cases.map((c) => [c.alert, c.after - c.before])).toEqual([
      ['LedgerImbalanced', 7.5],
      ['StockOversold', 3],
      ['StockNotConserved', 0 - cases[2]!.before],
      ['FinalOrdersHoldStock', 2],
      ['OrdersStuck', 1],
      ['OrdersNeedAttention', 1],
      ['DoubleCharge', 1],
    ]);
    expect(cases[2]!.after).toBe(0);
    // Healthy before (this test database holds only well-behaved orders), firing after.
    for (const c of cases) {
      const run = promtoolFires(c);
      expect(run.status, `${c.alert}: ${run.output}`).toBe(0);
    }
  });

  it('passes promtool check rules and the alert rules unit tests', () => {
    expect(() => execFileSync(promtool, ['check', 'rules', alertsFile], { encoding: 'utf8' })).not.toThrow();
    const run = spawnSync(promtool, ['test', 'rules', 'alerts.test.yml'], {
      cwd: new URL('../../prometheus/', import.meta.url).pathname,
      encoding: 'utf8',
    });
    expect(run.status, run.stdout + run.stderr).toBe(0);
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function checkMetrics(scrape: string): { status: number | null; output: string } {
  const run = spawnSync(promtool, ['check', 'metrics'], { input: scrape, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('every process scrape', () => {
  it('passes promtool check metrics: the API (with the admin gauges) and a worker or relay (METRICS_PORT)', async () => {
    const metrics = createMetrics();
    const server = await listen(createApiApp(core, metrics), 0, '127.0.0.1');
    try {
      const { port } = server.address() as AddressInfo;
      const scrape = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(scrape).toContain('order_engine_queue_jobs{queue="orders",state="waiting"}');
      expect(scrape).toContain('order_engine_invariant_ledger_imbalance');
      const api = checkMetrics(scrape);
      expect(api.status, api.output).toBe(0);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    // worker.main.ts and relay.main.ts serve their registry this way on METRICS_PORT.
    const port = await freePort();
    const processServer = serveMetrics(createMetrics().registry, port, '127.0.0.1');
    try {
      const scrape = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const worker = checkMetrics(scrape);
      expect(worker.status, worker.output).toBe(0);
      expect(scrape).toContain('order_engine_job_duration_seconds');
    } finally {
      await new Promise((resolve) => processServer?.close(resolve));
    }
  });
});

// The chaos runner end to end, through its CLI: a short seeded `kill` run against the real
// servers (one process per role, SIGKILLs and restarts), then `ledger` over what it left. Both
// must exit 0 with every invariant of their JSON report passing. Seed 23 kills the API (clients
// retry) and then the relay; a killed notifications consumer waits out its 30 s session, too slow here.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../chaos/runner/report.ts';
import { testDatabaseUrl } from '../support/test-config.ts';

const outDir = mkdtempSync(join(tmpdir(), 'chaos-runner-test-'));
const topic = `${process.env.KAFKA_TOPIC_ORDER_EVENTS ?? 'order-events'}-chaos-test`;

function runChaos(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'chaos/runner/main.ts', ...args, '--out', outDir], {
      env: {
        ...process.env,
        // Its own database: the ledger scenario checks every order in it, and other test files
        // leave orders unfinished on purpose.
        DATABASE_URL: testDatabaseUrl().replace(/_test$/, '_chaos_test'),
        QUEUE_PREFIX: `${process.env.QUEUE_PREFIX ?? 'oe'}-chaos-test`,
        KAFKA_TOPIC_ORDER_EVENTS: topic,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

function latestReport(scenario: string): RunReport {
  const files = readdirSync(outDir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const reports = files.map((f) => JSON.parse(readFileSync(join(outDir, f), 'utf8')) as RunReport);
  const report = reports.filter((r) => r.scenario === scenario).pop();
  if (report === undefined) throw new Error(`no ${scenario} report in ${outDir}: ${files.join(', ')}`);
  return report;
}

describe('npm run chaos', () => {
  it('kill: SIGKILLs processes under load, restarts them, and every invariant holds', async () => {
    const { code, output } = await runChaos([
      'kill',
      '--seed',
      '23',
      '--duration',
      '15s',
      '--rate',
      '2',
      '--drain',
      '60s',
    ]);
    expect(code, output).toBe(0);
    const report = latestReport('kill');
    expect(report.pass).toBe(true);
    expect(report.seed).toBe(23);
    expect(report.faults.counts.kill).toBeGreaterThan(0);
    expect(report.unexpectedExits).toEqual([]);
    expect(report.load?.accepted).toBeGreaterThan(10);
    expect(report.invariants.length).toBeGreaterThanOrEqual(8);
    expect(report.invariants.filter((i) => !i.pass)).toEqual([]);
    expect(output).toContain('PASS: chaos kill, seed 23');
  }, 150_000);

  it('ledger: checks a live system alone and passes', async () => {
    const { code, output } = await runChaos(['ledger']);
    expect(code, output).toBe(0);
    const report = latestReport('ledger');
    expect(report.invariants.filter((i) => !i.pass)).toEqual([]);
    expect(report.invariants.find((i) => i.name === 'ledger balances')?.checked).toMatch(/^\d+ transactions$/);
  }, 90_000);
});

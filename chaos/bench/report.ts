// What a run shows: a live progress line on stderr (rewritten in place on a terminal, a line every
// 5 s otherwise; never more than once a second), the tables at the end, and the JSON results file.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadStatus } from './load.ts';
import type { PhaseResult } from './bench-context.ts';
import { median } from './bench-support.ts';
import type { EngineLayout } from './engine-processes.ts';

const onTerminal = process.stderr.isTTY === true;
let progressShown = false;

/** A line for the log (stderr), clearing the progress line first. */
export function say(line: string): void {
  if (progressShown) process.stderr.write('\r\x1b[2K');
  progressShown = false;
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

export function startProgress(runStartedAt: number): () => void {
  let lastAnswered = 0;
  let lastPhase = '';
  let ticks = 0;
  const timer = setInterval(() => {
    ticks++;
    if (loadStatus.phase !== lastPhase) {
      lastPhase = loadStatus.phase;
      lastAnswered = 0;
    }
    const rate = loadStatus.answered - lastAnswered;
    lastAnswered = loadStatus.answered;
    const line =
      `[bench +${((Date.now() - runStartedAt) / 1_000).toFixed(0)} s] ${loadStatus.phase}: ` +
      `${((Date.now() - loadStatus.startedAt) / 1_000).toFixed(0)} s, placed ${loadStatus.placed}, ` +
      `answered ${loadStatus.answered} (${rate}/s), in flight ${loadStatus.placed - loadStatus.answered}, ` +
      `errors ${loadStatus.errors}`;
    if (onTerminal) {
      process.stderr.write(`\r\x1b[2K${line}`);
      progressShown = true;
    } else if (ticks % 5 === 0) {
      process.stderr.write(`${line}\n`);
    }
  }, 1_000);
  return () => {
    clearInterval(timer);
    if (progressShown) process.stderr.write('\r\x1b[2K');
    progressShown = false;
  };
}

export interface PairResult {
  layout: EngineLayout;
  pair: number;
  engine: number;
  baseline: number;
  ratio: number;
}

export interface PerOrder {
  cpu_ms: Record<string, number>;
  cpu_ms_measured_total: number;
  machine_cpu_ms: number;
  postgres_all_cpu_ms: number;
  transactions: number;
  commits: number;
  rows_written: number;
  statements: number | null;
  /** INFO commandstats counts the commands a Lua script runs too. */
  redis_commands: number;
  redis_script_calls: number;
  redis_top: Record<string, number>;
  /** BullMQ jobs finished, every queue; null when not counted. */
  jobs: number | null;
}

/** Costs divided by the orders placed in the window (warm-up included, as its work is counted too). */
export function perOrder(phase: PhaseResult): PerOrder | null {
  const costs = phase.costs;
  const orders = phase.costs_orders;
  if (costs === null || orders === 0) return null;
  const ms = (seconds: number) => Math.round((seconds * 1_000 * 100) / orders) / 100;
  const per = (n: number) => Math.round((n * 100) / orders) / 100;
  const cpu = Object.fromEntries(Object.entries(costs.cpuSeconds).map(([group, s]) => [group, ms(s)]));
  const measured = Object.entries(costs.cpuSeconds)
    .filter(([group]) => !group.includes('shared'))
    .reduce((sum, [, s]) => sum + s, 0);
  const redisTotal = Object.values(costs.redisCommands).reduce((a, b) => a + b, 0);
  const redisTop = Object.fromEntries(
    Object.entries(costs.redisCommands)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([command, calls]) => [command, per(calls)]),
  );
  const db = costs.database;
  return {
    cpu_ms: cpu,
    cpu_ms_measured_total: ms(measured),
    machine_cpu_ms: ms(costs.machineCpuSeconds),
    postgres_all_cpu_ms: ms(costs.postgresAllCpuSeconds),
    transactions: per(db.transactions),
    commits: per(db.commits),
    rows_written: per(db.rows_inserted + db.rows_updated + db.rows_deleted),
    statements: db.statements === null ? null : per(db.statements),
    redis_commands: per(redisTotal),
    redis_script_calls: per((costs.redisCommands.evalsha ?? 0) + (costs.redisCommands.eval ?? 0)),
    redis_top: redisTop,
    jobs: costs.jobs === null ? null : per(costs.jobs),
  };
}

const fixed = (value: number | null | undefined, digits = 1) =>
  value === null || value === undefined || Number.isNaN(value) ? '-' : value.toFixed(digits);

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function latencyRow(phase: PhaseResult): string[] {
  const o = phase.outcomes;
  const load =
    phase.load.type === 'closed'
      ? `closed, ${phase.load.clients} clients`
      : `open, ${fixed(phase.load.target_per_second)}/s`;
  const statuses =
    o === null
      ? '-'
      : Object.entries(o.statuses)
          .map(([s, n]) => `${s} ${n}`)
          .join(', ');
  const final =
    o === null
      ? '-'
      : `${fixed(o.createToFinalMs.p50, 0)} / ${fixed(o.createToFinalMs.p95, 0)} / ${fixed(o.createToFinalMs.p99, 0)}`;
  const lag =
    o === null || phase.system === 'baseline'
      ? '-'
      : `${fixed(o.commitToTopicMs.p50, 0)} / ${fixed(o.commitToTopicMs.p99, 0)}`;
  return [
    phase.name,
    load,
    fixed(phase.orders_per_second),
    final,
    `${fixed(phase.request_ms.p50, 0)} / ${fixed(phase.request_ms.p99, 0)}`,
    lag,
    statuses,
    String(phase.errors),
  ];
}

export function renderTables(phases: PhaseResult[], pairs: PairResult[]): string {
  const out: string[] = [];
  out.push('Engine against the one-transaction baseline (closed loop, orders/s), alternated:');
  out.push(
    table(
      ['engine', 'pair', 'engine orders/s', 'baseline orders/s', 'ratio'],
      pairs.map((p) => [p.layout, String(p.pair), fixed(p.engine), fixed(p.baseline), fixed(p.ratio, 3)]),
    ),
  );
  for (const layout of [...new Set(pairs.map((p) => p.layout))]) {
    const ratios = pairs.filter((p) => p.layout === layout).map((p) => p.ratio);
    out.push(
      `median ratio, ${layout}: ${fixed(median(ratios), 3)} (min ${fixed(Math.min(...ratios), 3)}, max ${fixed(Math.max(...ratios), 3)})`,
    );
  }
  out.push('');
  out.push(
    'Latency (ms; create to final from PostgreSQL, request as the client saw it, topic lag = outbox row to published):',
  );
  out.push(
    table(
      [
        'phase',
        'load',
        'orders/s',
        'create->final p50/p95/p99',
        'request p50/p99',
        'topic lag p50/p99',
        'statuses',
        'errors',
      ],
      phases.map(latencyRow),
    ),
  );
  const costed = phases.filter((p) => p.costs !== null);
  if (costed.length > 0) {
    out.push('');
    out.push(
      'Per order (CPU ms by process group; PostgreSQL counters of the bench database; Redis = the BullMQ node):',
    );
    const per = costed.map((p) => [p.name, perOrder(p)] as const);
    const groups = [...new Set(per.flatMap(([, p]) => Object.keys(p?.cpu_ms ?? {})))].sort();
    const rows: string[][] = [];
    for (const group of groups) rows.push([`cpu ms: ${group}`, ...per.map(([, p]) => fixed(p?.cpu_ms[group], 2))]);
    rows.push(['cpu ms: all measured groups', ...per.map(([, p]) => fixed(p?.cpu_ms_measured_total, 2))]);
    rows.push(['cpu ms: postgres, all processes (shared)', ...per.map(([, p]) => fixed(p?.postgres_all_cpu_ms, 2))]);
    rows.push(['cpu ms: whole machine (shared)', ...per.map(([, p]) => fixed(p?.machine_cpu_ms, 2))]);
    rows.push(['pg transactions', ...per.map(([, p]) => fixed(p?.transactions, 2))]);
    rows.push(['pg commits', ...per.map(([, p]) => fixed(p?.commits, 2))]);
    rows.push(['pg rows written', ...per.map(([, p]) => fixed(p?.rows_written, 2))]);
    rows.push(['pg statements (pg_stat_statements)', ...per.map(([, p]) => fixed(p?.statements, 2))]);
    rows.push(['redis commands (incl. inside scripts)', ...per.map(([, p]) => fixed(p?.redis_commands, 2))]);
    rows.push(['redis script calls (EVALSHA)', ...per.map(([, p]) => fixed(p?.redis_script_calls, 2))]);
    rows.push(['bullmq jobs finished', ...per.map(([, p]) => fixed(p?.jobs, 2))]);
    const bytes = costed.map((p) => p.bytes_per_order);
    rows.push(['disk bytes added (before retention)', ...bytes.map((b) => fixed(b?.before, 0))]);
    rows.push(['disk bytes kept (after retention)', ...bytes.map((b) => fixed(b?.after, 0))]);
    out.push(table(['per order', ...per.map(([name]) => name)], rows));
    for (const phase of costed) {
      out.push(`  ${phase.name}: ${phase.costs_orders} orders over ${phase.costs_scope}, warm-up excluded`);
    }
  }
  return out.join('\n');
}

export function writeResults(results: unknown): string {
  mkdirSync('bench-results', { recursive: true });
  const path = `bench-results/${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
  return path;
}

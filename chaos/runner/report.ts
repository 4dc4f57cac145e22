// The end of a run: the invariant table on stdout, and the same report as JSON in the results folder.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InvariantResult } from './check-types.ts';
import type { FaultLog } from './faults.ts';
import type { UnexpectedExit } from './fleet.ts';
import type { LoadStats } from './load.ts';
import type { DrainResult } from './progress.ts';

export interface RaceRound {
  redlock: 'on' | 'off';
  buyers: number;
  /** Orders of the product in PostgreSQL: more than buyers means a request was placed twice. */
  ordersPlaced: number;
  productId: string;
  allAnsweredMs: number;
  allFinalMs: number | null;
  confirmed: number;
  rejectedOutOfStock: number;
  other: Record<string, number>;
  /** Buyers the API refused (4xx) or never answered: each one fails the round. */
  refused: number;
  unanswered: number;
  /** Rejected orders that reached the payment step (must be none). */
  paymentAttempts: number;
  pass: boolean;
}

export interface RunReport {
  pass: boolean;
  seed: number;
  scenario: string;
  tag: string | null;
  startedAt: string;
  finishedAt: string;
  options: Record<string, unknown>;
  load: Omit<LoadStats, 'orderIds'> | null;
  ordersByStatus: Record<string, number>;
  faults: FaultLog;
  unexpectedExits: UnexpectedExit[];
  drain: DrainResult | null;
  race: RaceRound[];
  invariants: InvariantResult[];
  failures: string[];
  logDir: string | null;
}

export function writeReport(outDir: string, report: RunReport): string {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${report.startedAt.replaceAll(':', '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

export function formatReport(report: RunReport): string {
  const lines: string[] = [];
  lines.push(`chaos ${report.scenario}, seed ${report.seed}${report.tag === null ? '' : `, run ${report.tag}`}`);
  const faults = Object.entries(report.faults.counts).filter(([, n]) => n > 0);
  lines.push(`faults injected: ${faults.map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`);
  if (report.load !== null) {
    const l = report.load;
    lines.push(
      `load: ${l.sent} orders sent, ${l.accepted} accepted, ${l.refused.length} refused, ${l.unanswered} unanswered, ` +
        `${l.cancelsSent} cancels, ${l.retries} client retries`,
    );
    lines.push(
      `  sent by kind: ${Object.entries(l.sentByKind)
        .map(([kind, n]) => `${kind} ${n}`)
        .join(', ')}`,
    );
  }
  lines.push(
    `orders by status: ${Object.entries(report.ordersByStatus)
      .map(([s, n]) => `${s} ${n}`)
      .join(', ')}`,
  );
  if (report.drain !== null) {
    lines.push(`drain: ${report.drain.settled ? 'settled' : 'NOT settled'} after ${report.drain.waitedMs} ms`);
  }
  for (const round of report.race) {
    lines.push(
      `race (Redlock ${round.redlock}): ${round.buyers} buyers placed ${round.ordersPlaced} orders, ${round.confirmed} confirmed, ` +
        `${round.rejectedOutOfStock} rejected out_of_stock, ${round.paymentAttempts} payment attempts by losers, ` +
        `${round.refused} refused, ${round.unanswered} unanswered; ` +
        `all answered in ${round.allAnsweredMs} ms, all final in ${round.allFinalMs ?? '-'} ms: ${round.pass ? 'PASS' : 'FAIL'}`,
    );
  }
  lines.push('');
  const width = Math.max(...report.invariants.map((i) => i.name.length), 10);
  lines.push(`${'invariant'.padEnd(width)}  result  checked`);
  for (const invariant of report.invariants) {
    lines.push(`${invariant.name.padEnd(width)}  ${invariant.pass ? 'PASS  ' : 'FAIL  '}  ${invariant.checked}`);
    for (const line of invariant.evidence) lines.push(`${''.padEnd(width)}          ${line}`);
  }
  for (const exit of report.unexpectedExits) {
    lines.push('');
    lines.push(
      `UNEXPECTED EXIT of ${exit.member} at ${exit.atMs} ms: code ${exit.code}, signal ${exit.signal}; last lines:`,
    );
    for (const line of exit.lastLines) lines.push(`  ${line.slice(0, 300)}`);
  }
  lines.push('');
  if (report.failures.length > 0) lines.push(...report.failures.map((f) => `FAILURE: ${f}`));
  lines.push(
    `${report.pass ? 'PASS' : 'FAIL'}: chaos ${report.scenario}, seed ${report.seed} (replay: --seed ${report.seed})`,
  );
  return lines.join('\n');
}

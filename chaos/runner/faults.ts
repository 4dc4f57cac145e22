// Injects the planned faults, one after another, each at its time, and undoes each after its hold:
// restart what was killed, SIGCONT what was paused, start again what was stopped.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { startKafka, stopKafka } from '../../src/local-infra/kafka.local.ts';
import { startRedisNode, stopRedisNode } from '../../src/local-infra/redis.local.ts';
import { sleep, type Pool } from '../../src/platform/db.ts';
import type { Fleet } from './fleet.ts';
import type { FaultKind, FleetMember, PlannedFault } from './schedule.ts';

export interface InjectedFault {
  atMs: number;
  kind: FaultKind;
  targets: string[];
  holdMs: number;
  /** What happened: "restarted after 2000 ms", "terminated 14 backends", or why it was skipped. */
  note: string;
}

export interface FaultLog {
  injected: InjectedFault[];
  counts: Record<FaultKind, number>;
  /** A fault that could not be undone (a restart that failed): a failure of the run. */
  errors: string[];
}

export function emptyFaultLog(): FaultLog {
  return { injected: [], counts: { kill: 0, pause: 0, postgres: 0, redis: 0, kafka: 0 }, errors: [] };
}

/** Ends every backend the engine's processes hold (their application_name), not the runner's own. */
export async function terminateEngineBackends(pool: Pool): Promise<number> {
  const result = await pool.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE 'order-engine-%'`,
  );
  let terminated = 0;
  for (const row of result.rows) {
    const done = await pool.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [row.pid]);
    if (done.rows[0]?.ok === true) terminated++;
  }
  return terminated;
}

const lostLock = /(?:Missing lock for job|could not renew lock for job) ([^ ."]+(?:\.[a-z]+)+)/g;

/** The jobs whose BullMQ lock lapsed while their worker was paused, from the worker's log after `offset`. */
export function jobsThatLostTheirLock(logFile: string, offset: number): string[] {
  if (!existsSync(logFile)) return [];
  const text = readFileSync(logFile).subarray(offset).toString('utf8');
  return [...new Set([...text.matchAll(lostLock)].map((m) => m[1]!))];
}

async function pause(fleet: Fleet, member: FleetMember, holdMs: number): Promise<string> {
  const logFile = fleet.logFile(member);
  const offset = existsSync(logFile) ? statSync(logFile).size : 0;
  if (!fleet.pause(member)) return `skipped: ${member} is not running`;
  await sleep(holdMs);
  fleet.resume(member);
  // The resumed worker finds out that its locks lapsed (another copy of each job ran) within moments.
  await sleep(2_000);
  const lost = jobsThatLostTheirLock(logFile, offset);
  const some = lost.length > 0 ? `: ${lost.slice(0, 3).join(', ')}${lost.length > 3 ? ', ...' : ''}` : '';
  return `SIGSTOP for ${holdMs} ms, then SIGCONT; ${lost.length} job(s) lost their lock and ran twice${some}`;
}

async function inject(fault: PlannedFault, fleet: Fleet, pool: Pool, brokers: string[]): Promise<string> {
  const member = fault.targets[0] as FleetMember;
  switch (fault.kind) {
    case 'kill': {
      if (!fleet.isRunning(member)) return `skipped: ${member} is not running`;
      await fleet.kill(member);
      await sleep(fault.holdMs);
      await fleet.start(member);
      return `SIGKILL, restarted after ${fault.holdMs} ms`;
    }
    case 'pause':
      return pause(fleet, member, fault.holdMs);
    case 'postgres':
      return `pg_terminate_backend on ${await terminateEngineBackends(pool)} engine backends`;
    case 'redis': {
      for (const port of fault.targets) await stopRedisNode(Number(port));
      await sleep(fault.holdMs);
      for (const port of fault.targets) await startRedisNode(Number(port));
      return `${fault.targets.length} of 3 Redlock nodes down for ${fault.holdMs} ms`;
    }
    case 'kafka': {
      const stopped = await stopKafka({ brokers, requireOurs: false });
      if (stopped.action === 'not-ours' || stopped.action === 'not-running') return `skipped: broker ${stopped.action}`;
      await sleep(fault.holdMs);
      await startKafka({ brokers });
      return `broker stopped (${stopped.action}) for ${fault.holdMs} ms, started again`;
    }
  }
}

/** Runs the faults at their times, from `startedAt`; stops early when `stopped()` says so. */
export async function runFaults(
  faults: readonly PlannedFault[],
  context: {
    fleet: Fleet;
    pool: Pool;
    brokers: string[];
    startedAt: number;
    durationMs: number;
    stopped: () => boolean;
  },
  log: FaultLog,
): Promise<void> {
  for (const fault of faults) {
    const waitMs = fault.atMs - (Date.now() - context.startedAt);
    if (waitMs > 0) await sleep(waitMs);
    // A slow restart (a consumer rejoining its group) can push the rest past the load: drop those.
    if (context.stopped() || Date.now() - context.startedAt + fault.holdMs > context.durationMs) return;
    log.counts[fault.kind]++;
    const atMs = Date.now() - context.startedAt;
    let note: string;
    try {
      note = await inject(fault, context.fleet, context.pool, context.brokers);
    } catch (error) {
      note = `failed: ${(error as Error).message}`;
      log.errors.push(`${fault.kind} ${fault.targets.join(',')} at ${atMs} ms: ${(error as Error).message}`);
    }
    if (note.startsWith('skipped')) log.counts[fault.kind]--;
    log.injected.push({ atMs, kind: fault.kind, targets: fault.targets, holdMs: fault.holdMs, note });
  }
}

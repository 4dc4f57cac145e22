// A small process supervisor for machines without Docker or systemd: each role of the engine runs
// as a child process, and a child that exits (a crash, exit code 70 from the process guard, a
// SIGKILL) is started again after a bounded backoff, with one log line naming its exit code.
// A child that ran long enough before it exited restarts at once; one that keeps crashing at start
// waits longer each time, so a broken deployment does not spin.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../platform/logger.ts';
import { ownProcessRoles, workerRoles } from './roles.ts';

export interface RoleSpec {
  /** The name in logs: api, worker, relay, notifications. */
  name: string;
  /** The entry point under src/main/, run with tsx, and its arguments. */
  entry: string;
  args: string[];
  env: Record<string, string>;
}

export interface RestartPolicy {
  backoffMsMin: number;
  backoffMsMax: number;
  /** A child that ran this long counts as healthy: its next restart starts from backoffMsMin again. */
  healthyAfterMs: number;
}

export const defaultRestartPolicy: RestartPolicy = { backoffMsMin: 500, backoffMsMax: 30_000, healthyAfterMs: 30_000 };

/** How long to wait before the next start, given the previous wait and how long the child ran. */
export function nextBackoffMs(policy: RestartPolicy, previousMs: number, ranMs: number): number {
  if (ranMs >= policy.healthyAfterMs || previousMs === 0) return policy.backoffMsMin;
  return Math.min(previousMs * 2, policy.backoffMsMax);
}

/** The roles `npm run supervise` runs by default: the documented per-role processes. */
export function defaultRoles(metricsPortBase: number): RoleSpec[] {
  const metrics = (offset: number): Record<string, string> =>
    metricsPortBase === 0 ? {} : { METRICS_PORT: String(metricsPortBase + offset) };
  const others = workerRoles.filter((role) => !ownProcessRoles.includes(role));
  const workers: RoleSpec[] = [
    ...ownProcessRoles.map((role) => ({ name: `worker-${role}`, entry: 'worker.main.ts', args: ['--only', role] })),
    { name: 'worker-others', entry: 'worker.main.ts', args: ['--only', others.join(',')] },
  ].map((spec, index) => ({ ...spec, env: metrics(index) }));
  return [
    { name: 'api', entry: 'api.main.ts', args: [], env: {} },
    ...workers,
    { name: 'relay', entry: 'relay.main.ts', args: [], env: metrics(workers.length) },
    { name: 'notifications', entry: 'notifications.main.ts', args: [], env: metrics(workers.length + 1) },
  ];
}

export interface Supervisor {
  /** The live child of each role, for tests and status lines. */
  pids(): Record<string, number | undefined>;
  /** SIGTERM to every child, then SIGKILL to those still running after timeoutMs. */
  stop(timeoutMs?: number): Promise<void>;
}

interface Slot {
  spec: RoleSpec;
  child: ChildProcess | null;
  startedAt: number;
  backoffMs: number;
  restarts: number;
  timer: NodeJS.Timeout | null;
}

export function supervise(roles: RoleSpec[], logger: Logger, policy = defaultRestartPolicy): Supervisor {
  let stopping = false;
  const entryDir = new URL('./', import.meta.url);
  const slots = roles.map((spec): Slot => ({
    spec,
    child: null,
    startedAt: 0,
    backoffMs: 0,
    restarts: 0,
    timer: null,
  }));

  function start(slot: Slot): void {
    slot.timer = null;
    if (stopping) return;
    const entry = new URL(slot.spec.entry, entryDir).pathname;
    const child = spawn(process.execPath, ['--import', 'tsx', entry, ...slot.spec.args], {
      env: { ...process.env, ...slot.spec.env },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    slot.child = child;
    slot.startedAt = Date.now();
    logger.info({ role: slot.spec.name, pid: child.pid, restarts: slot.restarts }, `${slot.spec.name} started`);
    child.once('exit', (code, signal) => {
      slot.child = null;
      if (stopping) return;
      const ranMs = Date.now() - slot.startedAt;
      slot.backoffMs = nextBackoffMs(policy, slot.backoffMs, ranMs);
      slot.restarts += 1;
      logger.error(
        { role: slot.spec.name, pid: child.pid, code, signal, ranMs, restartInMs: slot.backoffMs },
        `${slot.spec.name} exited (code ${code ?? 'none'}, signal ${signal ?? 'none'}); restarting in ${slot.backoffMs} ms`,
      );
      slot.timer = setTimeout(() => start(slot), slot.backoffMs);
    });
  }

  for (const slot of slots) start(slot);
  return {
    pids: () => Object.fromEntries(slots.map((s) => [s.spec.name, s.child?.pid])),
    async stop(timeoutMs = 20_000) {
      stopping = true;
      const exits = slots.map((slot) => {
        if (slot.timer !== null) clearTimeout(slot.timer);
        const child = slot.child;
        if (child === null || child.exitCode !== null) return Promise.resolve();
        return new Promise<void>((resolve) => {
          const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
          child.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill('SIGTERM');
        });
      });
      await Promise.all(exits);
    },
  };
}

// Which dependencies this process cannot reach right now, and since when. Every reconnecting path
// (the pg pool and transaction helper, the LISTEN client, ioredis, kafkajs) reports here, so a
// process says "postgres unreachable" once when an outage starts and "postgres reachable again
// after 4.2 s" once when it ends, not once per attempt; /metrics and /ready read the same state.
// It is process-wide on purpose: a dependency is down for the whole process, whichever path saw it.
import type { Logger } from './logger.ts';

export type DependencyState = 'ok' | 'down';

interface Outage {
  since: number;
  failures: number;
  firstError: string;
}

export interface OutageLog {
  /** A failed attempt to reach the dependency. Logs only the first of an outage. */
  down(dependency: string, error: unknown): void;
  /** The dependency answered. Logs the end of an outage with its duration, if there was one. */
  up(dependency: string): void;
  /** Every dependency seen so far: 'ok' or 'down'. */
  states(): Record<string, DependencyState>;
  /** The dependencies down now, with the outage's age in milliseconds. */
  current(): Array<{ dependency: string; downForMs: number; failures: number }>;
  useLogger(logger: Logger): void;
}

export function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return code === undefined ? error.message : `${String(code)}: ${error.message}`;
  }
  return String(error);
}

export function createOutageLog(initialLogger?: Logger): OutageLog {
  let logger = initialLogger;
  const outages = new Map<string, Outage>();
  const known = new Set<string>();
  return {
    down(dependency, error) {
      known.add(dependency);
      const outage = outages.get(dependency);
      if (outage !== undefined) {
        outage.failures += 1;
        return;
      }
      outages.set(dependency, { since: Date.now(), failures: 1, firstError: errorText(error) });
      logger?.warn({ dependency, error: errorText(error) }, `${dependency} unreachable; waiting for it`);
    },
    up(dependency) {
      known.add(dependency);
      const outage = outages.get(dependency);
      if (outage === undefined) return;
      outages.delete(dependency);
      const outageMs = Date.now() - outage.since;
      logger?.warn(
        { dependency, outageMs, failures: outage.failures, firstError: outage.firstError },
        `${dependency} reachable again after ${(outageMs / 1_000).toFixed(1)} s`,
      );
    },
    states() {
      const result: Record<string, DependencyState> = {};
      for (const dependency of [...known].sort()) result[dependency] = outages.has(dependency) ? 'down' : 'ok';
      return result;
    },
    current() {
      const now = Date.now();
      return [...outages].map(([dependency, o]) => ({ dependency, downForMs: now - o.since, failures: o.failures }));
    },
    useLogger(next) {
      logger = next;
    },
  };
}

/** The process's one outage log; entry points hand it their logger (createCoreDeps does). */
export const outages = createOutageLog();

// Bounded waits: every wait has a deadline, a poll interval and a description for the timeout message.
import { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Progress } from './service-result.ts';

export { sleep };

/** Thrown by a probe to stop waiting at once, for example when the process we wait for has exited. */
export class WaitAbortedError extends Error {
  override name = 'WaitAbortedError';
}

export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
}

export interface WaitOptions {
  description: string;
  timeoutMs: number;
  intervalMs: number;
  /** When set, a line every `progressEveryMs` says how long we have waited so far. */
  onProgress?: Progress;
  progressEveryMs?: number;
}

/**
 * Polls `probe` until it returns a value other than undefined or false. A probe that throws counts as
 * "not yet", and its message ends up in the timeout error, except WaitAbortedError, which ends the wait.
 */
export async function waitUntil<T>(probe: () => Promise<T | undefined | false>, options: WaitOptions): Promise<T> {
  const startedAt = Date.now();
  const progressEveryMs = options.progressEveryMs ?? 5_000;
  let nextProgressAt = startedAt + progressEveryMs;
  let lastProblem = '';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      lastProblem = '';
    } catch (error) {
      if (error instanceof WaitAbortedError) throw error;
      lastProblem = error instanceof Error ? error.message : String(error);
    }
    const now = Date.now();
    if (now - startedAt >= options.timeoutMs) {
      const suffix = lastProblem === '' ? '' : ` (last error: ${lastProblem})`;
      throw new WaitTimeoutError(`${options.description}: gave up after ${formatDuration(options.timeoutMs)}${suffix}`);
    }
    if (options.onProgress !== undefined && now >= nextProgressAt) {
      options.onProgress(
        `${options.description}: ${formatDuration(now - startedAt)} of ${formatDuration(options.timeoutMs)}`,
      );
      nextProgressAt = now + progressEveryMs;
    }
    await sleep(options.intervalMs);
  }
}

/** True when a TCP connection to host:port succeeds within `timeoutMs`. */
export function isPortOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const finish = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
    socket.connect(port, host);
  });
}

export async function waitForPortClosed(host: string, port: number, timeoutMs: number): Promise<boolean> {
  try {
    await waitUntil(async () => !(await isPortOpen(host, port, 200)), {
      description: `${host}:${port} to close`,
      timeoutMs,
      intervalMs: 100,
    });
    return true;
  } catch (error) {
    if (error instanceof WaitTimeoutError) return false;
    throw error;
  }
}

/** "850 ms" below a second, "3.4 s" above: the unit progress lines use. */
export function formatDuration(durationMs: number): string {
  if (durationMs < 1_000) return `${Math.round(durationMs)} ms`;
  return `${(durationMs / 1_000).toFixed(1)} s`;
}

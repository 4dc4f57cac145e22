// The sweeper: every interval, hands over the queue rows that are due and that nobody processed
// (timers, what the fast path dropped, jobs Redis lost). Any number of sweepers may run: they
// share the rows through SKIP LOCKED.
import { CommitOutcomeUnknownError, isConnectionError } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import type { Dispatcher } from './dispatcher.ts';

export interface Sweeper {
  stop(): Promise<void>;
}

export function startSweeper(dispatcher: Dispatcher, logger: Logger, intervalMs: number): Sweeper {
  let running = true;
  let wake: (() => void) | null = null;
  const loop = (async () => {
    while (running) {
      try {
        const swept = await dispatcher.sweep();
        if (swept > 0) logger.debug({ swept }, 'sweeper handed over outbox rows');
      } catch (error) {
        // PostgreSQL away: the transaction helper's outage log has said so once; no line per sweep.
        if (isConnectionError(error) || error instanceof CommitOutcomeUnknownError) {
          logger.debug({ err: error }, 'sweep failed; next interval retries');
        } else logger.warn({ err: error }, 'sweep failed; next interval retries');
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, intervalMs);
      });
    }
  })();
  return {
    async stop() {
      running = false;
      wake?.();
      await loop;
    },
  };
}

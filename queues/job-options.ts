// Explicit BullMQ options for every queue and worker. Nothing falls back to a library default.
// The settings come in as a parameter of this shape (src/platform/config.ts's Config has it), so
// the queue contracts depend on nothing above them.
import type { JobsOptions, WorkerOptions } from 'bullmq';

/** The queue settings of the configuration, by their names there. */
export interface QueueSettings {
  QUEUE_ATTEMPTS: number;
  QUEUE_BACKOFF_MS: number;
  QUEUE_REMOVE_ON_COMPLETE_COUNT: number;
  QUEUE_REMOVE_ON_FAIL_COUNT: number;
  QUEUE_LOCK_DURATION_MS: number;
  QUEUE_STALLED_INTERVAL_MS: number;
  QUEUE_MAX_STALLED_COUNT: number;
  WORKER_CONCURRENCY: number;
}

export interface QueueLimits {
  attempts: number;
  backoffMs: number;
  removeOnCompleteCount: number;
  removeOnFailCount: number;
}

export function queueLimitsFrom(config: QueueSettings): QueueLimits {
  return {
    attempts: config.QUEUE_ATTEMPTS,
    backoffMs: config.QUEUE_BACKOFF_MS,
    removeOnCompleteCount: config.QUEUE_REMOVE_ON_COMPLETE_COUNT,
    removeOnFailCount: config.QUEUE_REMOVE_ON_FAIL_COUNT,
  };
}

/**
 * Exponential backoff with jitter; failed jobs are kept (the dead-letter state), bounded. Completed
 * jobs are dropped at once unless a count is configured: their effect and inbox row are in PostgreSQL.
 */
export function jobOptions(limits: QueueLimits): JobsOptions {
  return {
    attempts: limits.attempts,
    backoff: { type: 'exponential', delay: limits.backoffMs, jitter: 0.5 },
    removeOnComplete: { count: limits.removeOnCompleteCount },
    removeOnFail: { count: limits.removeOnFailCount },
  };
}

export type WorkerLimits = Pick<WorkerOptions, 'concurrency' | 'lockDuration' | 'stalledInterval' | 'maxStalledCount'>;

export function workerLimitsFrom(config: QueueSettings, concurrency = config.WORKER_CONCURRENCY): WorkerLimits {
  return {
    concurrency,
    lockDuration: config.QUEUE_LOCK_DURATION_MS,
    stalledInterval: config.QUEUE_STALLED_INTERVAL_MS,
    maxStalledCount: config.QUEUE_MAX_STALLED_COUNT,
  };
}

// Explicit BullMQ options for every queue and worker. Nothing falls back to a library default.
import type { JobsOptions, WorkerOptions } from 'bullmq';
import type { Config } from '../src/platform/config.ts';

export interface QueueLimits {
  attempts: number;
  backoffMs: number;
  removeOnCompleteCount: number;
  removeOnFailCount: number;
}

export function queueLimitsFrom(config: Config): QueueLimits {
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

export function workerLimitsFrom(config: Config, concurrency = config.WORKER_CONCURRENCY): WorkerLimits {
  return {
    concurrency,
    lockDuration: config.QUEUE_LOCK_DURATION_MS,
    stalledInterval: config.QUEUE_STALLED_INTERVAL_MS,
    maxStalledCount: config.QUEUE_MAX_STALLED_COUNT,
  };
}

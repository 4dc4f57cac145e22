// What BullMQ knows of one message's job (jobId = message id): its state, attempts, last failure,
// when a retry waiting out its backoff runs next, and its page on Bull Board. Read per job, only
// for the few messages an operator looks at.
import type { Queue } from 'bullmq';
import type { RedisClient } from '../platform/redis.ts';
import type { JobFact } from './admin.schemas.ts';
import { bullBoardBasePath } from './bull-board.ts';

/** Bull Board's page of one job. */
export function boardUrlOf(queue: string, jobId: string): string {
  return `${bullBoardBasePath}/queue/${encodeURIComponent(queue)}/${encodeURIComponent(jobId)}`;
}

/**
 * BullMQ keeps a delayed job in a sorted set scored by its due time in ms, shifted left by 12 bits
 * (the low bits order jobs due in the same millisecond): the score is the exact next attempt.
 */
async function delayedUntil(redis: RedisClient, queue: Queue, jobId: string): Promise<string | null> {
  const score = await redis.zscore(queue.keys.delayed ?? '', jobId);
  return score === null ? null : new Date(Math.floor(Number(score) / 0x1000)).toISOString();
}

export async function jobFact(
  redis: RedisClient,
  queues: ReadonlyMap<string, Queue>,
  queueName: string,
  jobId: string,
): Promise<JobFact | null> {
  const queue = queues.get(queueName);
  const job = queue === undefined ? undefined : await queue.getJob(jobId);
  if (queue === undefined || job === undefined || job === null) return null;
  const state = await job.getState();
  return {
    id: String(job.id),
    queue: queueName,
    state,
    attempts_made: job.attemptsMade,
    attempts_max: job.opts.attempts ?? 1,
    failed_reason: job.failedReason === undefined || job.failedReason === '' ? null : job.failedReason,
    next_attempt_at: state === 'delayed' ? await delayedUntil(redis, queue, String(job.id)) : null,
    board_url: boardUrlOf(queueName, String(job.id)),
  };
}

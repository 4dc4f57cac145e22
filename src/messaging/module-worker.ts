// Runs one module's runtime as a BullMQ worker. It parses the envelope and payload, prepares each
// job alone, commits the jobs that arrive together in one transaction (group commit), turns
// permanent errors into UnrecoverableError (no retry), and records every job that ends failed in
// dead_letters, so nothing is dropped silently.
import { UnrecoverableError, type Job, type Worker } from 'bullmq';
import { createWorker } from '../platform/bullmq.ts';
import { onBullmqError, redisDependencyOf, type RedisClient } from '../platform/redis.ts';
import type { Pool } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import type { WorkerLimits } from '../../queues/job-options.ts';
import { messageSchema, type Message } from '../../queues/message.ts';
import { parsePayload, type QueueName } from '../../queues/queues.ts';
import { createGroupCommit, type GroupCommitOptions } from './group-commit.ts';
import type { ModuleRuntime, Work } from './handle-once.ts';

export type MessageHandler = (message: Message, job?: Job) => Promise<void>;

/** An error that retrying cannot fix: a bug in the sender, or a broken invariant. */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

export interface ModuleWorkerOptions {
  queue: QueueName;
  connection: RedisClient;
  prefix: string;
  limits: WorkerLimits;
  groupCommit: GroupCommitOptions;
  pool: Pool;
  logger: Logger;
  /** Size of every batch committed, for the metrics. */
  onBatch?: (size: number) => void;
}

export function parseJob(queue: QueueName, data: unknown): Message {
  const parsed = messageSchema.safeParse(data);
  if (!parsed.success) throw new PermanentError(`malformed message on ${queue}: ${parsed.error.message}`);
  try {
    return { ...parsed.data, payload: parsePayload(queue, parsed.data.type, parsed.data.payload) };
  } catch (error) {
    throw new PermanentError(`bad payload for ${parsed.data.type} on ${queue}: ${(error as Error).message}`);
  }
}

/** The runtime as a handler of one message at a time: for callers outside a worker (tests, tools). */
export function handlerOf(runtime: ModuleRuntime): MessageHandler {
  return async (message, job) => {
    const work = await runtime.prepare(message, job);
    if (work !== null) await runtime.commit([work]);
  };
}

export function startModuleWorker(options: ModuleWorkerOptions, runtime: ModuleRuntime): Worker {
  const { queue, logger } = options;
  const committer = createGroupCommit<Work>(options.groupCommit, (works) => runtime.commit(works), {
    onBatch: options.onBatch,
    onSplit: (size, error) =>
      logger.warn({ queue, size, err: error }, 'batch failed; committing its messages one by one'),
  });
  const worker = createWorker(
    queue,
    options.connection,
    options.prefix,
    async (job: Job) => {
      try {
        const work = await runtime.prepare(parseJob(queue, job.data), job);
        if (work !== null) await committer.submit(work);
      } catch (error) {
        if (error instanceof PermanentError) throw new UnrecoverableError(error.message);
        throw error;
      }
    },
    options.limits,
  );
  worker.on('failed', (job, error) => {
    if (job === undefined) return;
    const final = error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    logger.warn({ queue, jobId: job.id, attempt: job.attemptsMade, final, err: error }, 'job failed');
    if (final) void recordDeadLetter(options.pool, queue, job, error).catch(() => undefined);
  });
  worker.on('error', onBullmqError(logger.child({ queue }), redisDependencyOf(options.connection), 'worker'));
  return worker;
}

async function recordDeadLetter(pool: Pool, queue: string, job: Job, error: Error): Promise<void> {
  await pool.query(
    `INSERT INTO dead_letters (queue, job_id, message_id, data, error, attempts)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (queue, job_id) DO NOTHING`,
    [queue, job.id, (job.data as { messageId?: string }).messageId ?? null, job.data, error.message, job.attemptsMade],
  );
}

// Runs one module's runtime as a BullMQ worker. It parses the envelope and payload, prepares each
// job alone, commits the jobs that arrive together in one transaction (group commit), turns
// permanent errors into UnrecoverableError (no retry), and records every job that ends failed in
// dead_letters, so nothing is dropped silently. An undo command that ends failed also escalates its
// order to needs_attention, in the dead letter's transaction (escalation.ts).
import { UnrecoverableError, type Job, type Worker } from 'bullmq';
import { createWorker } from '../platform/bullmq.ts';
import { onBullmqError, redisDependencyOf, type RedisClient } from '../platform/redis.ts';
import type { Pool } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import type { WorkerLimits } from '../../queues/job-options.ts';
import { messageSchema, type Message } from '../../queues/message.ts';
import { parsePayload, type QueueName } from '../../queues/queues.ts';
import { createGroupCommit, type GroupCommitOptions } from './group-commit.ts';
import type { HandleOnceDeps, ModuleRuntime, Work } from './handle-once.ts';
import { deadLetterOf, escalationReason, settleFailedJob } from './escalation.ts';
import { insertDeadLetter } from './outbox.sql.ts';

export type MessageHandler = (message: Message, job?: Job) => Promise<void>;

/** An error that retrying cannot fix: a bug in the sender, or a broken invariant. */
export class PermanentError extends Error {
  override name = 'PermanentError';

  /** code: a machine-readable reason (refund_refused, ...), recorded when the job escalates. */
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
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
  /** Where an undo that ends failed answers its order (absent: it is only dead-lettered). */
  escalation?: HandleOnceDeps;
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
        if (error instanceof PermanentError)
          throw Object.assign(new UnrecoverableError(error.message), { code: error.code });
        throw error;
      }
    },
    options.limits,
  );
  worker.on('failed', (job, error) => {
    if (job === undefined) return;
    const final = error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    logger.warn({ queue, jobId: job.id, attempt: job.attemptsMade, final, err: error }, 'job failed');
    if (final)
      void settleFailure(options, runtime.consumer, job, error).catch((failure: unknown) =>
        logger.error({ queue, jobId: job.id, err: failure }, 'failed job not recorded'),
      );
  });
  worker.on('error', onBullmqError(logger.child({ queue }), redisDependencyOf(options.connection), 'worker'));
  return worker;
}

/** Dead-letters a job that ended failed; an undo command also escalates its order. */
async function settleFailure(options: ModuleWorkerOptions, consumer: string, job: Job, error: Error): Promise<void> {
  const letter = deadLetterOf(options.queue, job, error);
  if (options.escalation === undefined) return insertDeadLetter(options.pool, letter);
  let message: Message | null = null;
  try {
    message = parseJob(options.queue, job.data);
  } catch {
    // A malformed message names no undo: it is only dead-lettered.
  }
  const reason = escalationReason(error, error instanceof UnrecoverableError);
  const escalated = await settleFailedJob(options.escalation, consumer, letter, message, reason);
  if (escalated) options.logger.warn({ queue: options.queue, jobId: job.id, reason }, 'undo failed: order escalated');
}

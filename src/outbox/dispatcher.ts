// Hands committed outbox rows for queues to BullMQ. The fast path runs right after the writer's
// commit; the sweeper re-dispatches whatever the fast path left behind. The jobId is the message
// id, so dispatching a row twice adds one job (and the receiver's inbox drops any second run).
import type { Queue } from 'bullmq';
import { withTransaction, type Pool } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import type { Message } from '../../queues/message.ts';
import { claimUndispatchedQueueRows, claimUnprocessedQueueRows, markDispatched, type OutboxRow } from './outbox.sql.ts';

export interface Dispatcher {
  /** Fast path after commit. Never throws: a row it fails to hand over waits for the sweeper. */
  dispatch(rows: OutboxRow[]): Promise<void>;
  /** One sweep; returns how many rows it handed over. */
  sweep(): Promise<number>;
  /** Writes the marks still pending. */
  flush(): Promise<void>;
}

export interface DispatcherOptions {
  sweepAgeMs: number;
  batchSizeMax: number;
  /** Re-hand over a dispatched queue message not processed this long after it was due. */
  redeliverAfterMs: number;
}

const markDelayMs = 20;

export function jobDataOf(row: OutboxRow): Message {
  return {
    messageId: row.message_id,
    orderId: row.key,
    correlationId: row.headers['correlation-id'] ?? row.message_id,
    type: row.type,
    payload: row.payload,
  };
}

export function createDispatcher(
  pool: Pool,
  queues: ReadonlyMap<string, Queue>,
  logger: Logger,
  options: DispatcherOptions,
): Dispatcher {
  async function addJobs(rows: OutboxRow[]): Promise<string[]> {
    const queueRows = rows.filter((row) => row.destination.startsWith('queue:'));
    // ioredis pipelines concurrent commands; the rows of one step go out in one round trip.
    await Promise.all(
      queueRows.map((row) => {
        const queue = queues.get(row.destination.slice('queue:'.length));
        if (queue === undefined) throw new Error(`no queue for outbox destination ${row.destination}`);
        const dueAt = row.created_at.getTime() + row.delay_ms;
        return queue.add(row.type, jobDataOf(row), { jobId: row.message_id, delay: Math.max(0, dueAt - Date.now()) });
      }),
    );
    return queueRows.map((row) => row.id);
  }

  // Marks are written in batches, a few milliseconds late: a mark lost in a crash only means
  // the sweeper hands the row over again, which the jobId and the receiver's inbox absorb.
  let marks: string[] = [];
  let markTimer: NodeJS.Timeout | null = null;
  const flush = async () => {
    if (markTimer !== null) clearTimeout(markTimer);
    markTimer = null;
    const ids = marks;
    marks = [];
    await markDispatched(pool, ids).catch((error: unknown) =>
      logger.warn({ err: error }, 'dispatch marks not written; the sweeper will re-dispatch'),
    );
  };

  return {
    async dispatch(rows) {
      try {
        marks.push(...(await addJobs(rows)));
        if (marks.length >= options.batchSizeMax) await flush();
        else markTimer ??= setTimeout(() => void flush(), markDelayMs);
      } catch (error) {
        logger.warn({ err: error, rows: rows.length }, 'fast-path dispatch failed; the sweeper will retry');
      }
    },
    flush,
    async sweep() {
      return withTransaction(pool, async (client) => {
        const rows = [
          ...(await claimUndispatchedQueueRows(client, options.sweepAgeMs, options.batchSizeMax)),
          ...(await claimUnprocessedQueueRows(client, options.redeliverAfterMs, options.batchSizeMax)),
        ];
        const ids = await addJobs(rows);
        if (ids.length > 0) {
          await client.query(`UPDATE outbox SET dispatched_at = now() WHERE id = ANY($1::bigint[])`, [ids]);
        }
        return ids.length;
      });
    },
  };
}

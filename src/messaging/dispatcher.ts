// Hands committed outbox rows for queues to BullMQ. The fast path runs right after the writer's
// commit and writes nothing back: the jobId is the message id, so handing a row over twice adds
// one job, and the receiver's inbox drops any second run. What the fast path leaves behind (a
// crash between commit and dispatch, a Redis blip, a job lost with Redis' data) and every timer
// are handed over by the sweeper, which finds them by the receiver's processed_at mark. When BullMQ's
// Redis (re)connects, it may have come back without its jobs (restarted empty, flushed, failed
// over before replicating): every row handed over before then and still unprocessed is handed over
// again at the next sweep, not OUTBOX_REDELIVER_AFTER_MS later (a timer lost so would be late by it).
import type { Queue } from 'bullmq';
import { withTransaction, type Pool } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import type { Message } from '../../queues/message.ts';
import { claimRowsToSweep, markSwept, type OutboxRow, type SweepLimits } from './outbox.sql.ts';

export interface Dispatcher {
  /** Fast path after commit. Never throws: a row it fails to hand over waits for the sweeper. */
  dispatch(rows: OutboxRow[]): Promise<void>;
  /** One sweep; returns how many rows it handed over. */
  sweep(): Promise<number>;
}

/** The dispatcher on BullMQ's Redis, told when that Redis (re)connects. */
export interface RedisDispatcher extends Dispatcher {
  /** BullMQ's Redis (re)connected: the next sweeps hand over again every row handed over before now. */
  redeliverHandedOver(): void;
}

export type DispatcherOptions = Omit<SweepLimits, 'limit'> & { batchSizeMax: number };

export function jobDataOf(row: OutboxRow): Message {
  return {
    messageId: row.message_id,
    orderId: row.key,
    correlationId: row.headers['correlation-id'] ?? row.message_id,
    type: row.type,
    payload: row.payload,
  };
}

/** Adds one job per queue row, one pipeline per queue. */
async function addJobs(queues: ReadonlyMap<string, Queue>, rows: OutboxRow[]): Promise<void> {
  const byQueue = new Map<Queue, OutboxRow[]>();
  for (const row of rows) {
    if (!row.destination.startsWith('queue:')) continue;
    const queue = queues.get(row.destination.slice('queue:'.length));
    if (queue === undefined) throw new Error(`no queue for outbox destination ${row.destination}`);
    byQueue.set(queue, [...(byQueue.get(queue) ?? []), row]);
  }
  await Promise.all(
    [...byQueue].map(([queue, queued]) =>
      queue.addBulk(queued.map((row) => ({ name: row.type, data: jobDataOf(row), opts: { jobId: row.message_id } }))),
    ),
  );
}

export function createDispatcher(
  pool: Pool,
  queues: ReadonlyMap<string, Queue>,
  logger: Logger,
  options: DispatcherOptions,
): RedisDispatcher {
  // A new process cannot know what Redis kept while no process ran: its first sweep asks too, so it
  // need not wait for the connection's 'ready', which may come just after that sweep began.
  let redeliverAsked = true;
  // The database's clock when the last (re)connect was seen: swept_at is on that clock too.
  let redeliverBefore: Date | null = null;
  return {
    async dispatch(rows) {
      // Timers wait in the outbox until they are due; the sweeper hands them over then.
      const now = rows.filter((row) => row.destination.startsWith('queue:') && row.delay_ms === 0);
      if (now.length === 0) return;
      try {
        await addJobs(queues, now);
      } catch (error) {
        logger.warn({ err: error, rows: now.length }, 'fast-path dispatch failed; the sweeper will hand the rows over');
      }
    },
    async sweep() {
      return withTransaction(pool, async (client) => {
        if (redeliverAsked) {
          redeliverBefore = (await client.query<{ now: Date }>('SELECT now()')).rows[0]!.now;
          redeliverAsked = false;
        }
        const rows = await claimRowsToSweep(client, { ...options, redeliverBefore, limit: options.batchSizeMax });
        if (rows.length === 0) return 0;
        await addJobs(queues, rows);
        await markSwept(
          client,
          rows.map((r) => r.id),
        );
        return rows.length;
      });
    },
    redeliverHandedOver() {
      redeliverAsked = true;
    },
  };
}

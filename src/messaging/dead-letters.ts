// Jobs that exhausted their attempts, kept in dead_letters: listed for the operator, and redriven
// (their message put on its queue again under its own job id). Redriving is safe however often it
// is done: a message its consumer already processed is not put back, and the receiver's inbox drops
// a second run of one that was.
import type { Queue } from 'bullmq';
import { withTransaction, type Pool } from '../platform/db.ts';
import { alreadyHandled } from './outbox.sql.ts';

export interface DeadLetter {
  id: string;
  queue: string;
  job_id: string;
  message_id: string | null;
  data: Record<string, unknown>;
  error: string;
  attempts: number;
  created_at: Date;
}

export async function listDeadLetters(pool: Pool, limit = 100): Promise<DeadLetter[]> {
  const result = await pool.query<DeadLetter>(
    `SELECT id, queue, job_id, message_id, data, error, attempts, created_at FROM dead_letters ORDER BY id DESC LIMIT $1`,
    [limit],
  );
  return result.rows;
}

/**
 * Puts each dead letter's message back on its queue and removes the row, in one transaction per
 * row. A message its consumer already processed is not put back: nothing is left to do, and a job
 * added for it could outlive its inbox row once retention prunes that (migration 013). Otherwise
 * the message goes back under its own job id, so every job of a message carries the message id the
 * retention job looks for in BullMQ. Returns how many dead letters were handled.
 */
export async function redriveDeadLetters(
  pool: Pool,
  queues: ReadonlyMap<string, Queue>,
  ids: string[],
): Promise<number> {
  const rows = await pool.query<DeadLetter>(`SELECT * FROM dead_letters WHERE id = ANY($1::bigint[]) ORDER BY id`, [
    ids,
  ]);
  for (const row of rows.rows) {
    const queue = queues.get(row.queue);
    if (queue === undefined) throw new Error(`dead letter ${row.id} names unknown queue ${row.queue}`);
    // The row is deleted before the job is back and committed after: a job that fails again at once
    // waits on this row's lock to record its new dead letter, so that one is never lost. One attempt:
    // a second run must not put the job back twice.
    await withTransaction(
      pool,
      async (client) => {
        const deleted = await client.query(`DELETE FROM dead_letters WHERE id = $1`, [row.id]);
        if (deleted.rowCount === 0) return; // another redrive took it
        const processed = row.message_id !== null && (await alreadyHandled(client, row.queue, row.message_id));
        if (!processed) await putBack(queue, row);
      },
      { attemptsMax: 1, connectionAttemptsMax: 1 },
    );
  }
  return rows.rowCount ?? 0;
}

/** The dead letter's job again: retried where BullMQ still keeps it, added anew where it does not. */
async function putBack(queue: Queue, row: DeadLetter): Promise<void> {
  const job = await queue.getJob(row.job_id);
  const state = job === undefined ? 'unknown' : await job.getState();
  if (job === undefined || state === 'unknown') {
    const type = typeof row.data.type === 'string' ? row.data.type : 'redrive';
    await queue.add(type, row.data, { jobId: row.job_id });
  } else if (state === 'failed' || state === 'completed') {
    await job.retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true });
  }
  // Otherwise it is waiting, delayed or active: already back in line.
}

// Jobs that exhausted their attempts, kept in dead_letters: listed for the operator, and redriven
// (their message put on its queue again under a new job id). Redriving is safe however often it
// is done: the receiver's inbox drops a message it has already processed.
import type { Queue } from 'bullmq';
import type { Pool } from '../platform/db.ts';

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

/** Re-adds each dead letter's message to its queue and removes the row. Returns how many. */
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
    const type = typeof row.data.type === 'string' ? row.data.type : 'redrive';
    await queue.add(type, row.data, { jobId: `${row.job_id}.redrive-${row.id}-${Date.now()}` });
    await pool.query(`DELETE FROM dead_letters WHERE id = $1`, [row.id]);
  }
  return rows.rowCount ?? 0;
}

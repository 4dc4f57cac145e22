// The inbox's retention. The rule is written where it is decided, migrations/013_retention.sql: an
// inbox row goes only when no path can deliver its message again. PostgreSQL checks the parts it
// knows (age, outbox row, dead letter), in the candidates' read and again in the DELETE itself; the
// caller checks between the two that BullMQ holds no job of the message (src/retention/).
import type { Queryable } from '../platform/db.ts';

/** An inbox row, with its time as PostgreSQL's own text: a JS Date would drop the microseconds. */
export interface InboxRowKey {
  consumer: string;
  message_id: string;
  processed_at: string;
}

/**
 * Rules a-c of migration 013 on inbox row `i`, with the retention in ms as $1: old enough, no outbox
 * row left that the sweeper could hand over, no dead letter that a redrive could put back.
 */
const inboxRowMayGo = `i.processed_at < now() - make_interval(secs => $1::double precision / 1000)
       AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = i.message_id)
       AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.message_id = i.message_id)`;

/**
 * Up to `limit` inbox rows that rules a-c let go, oldest first, after `after` (a keyset cursor, so
 * rows held by a job in BullMQ never hide the rows behind them). Reads only; locks nothing.
 */
export async function inboxPruneCandidates(
  db: Queryable,
  retentionMs: number,
  after: InboxRowKey | null,
  limit: number,
): Promise<InboxRowKey[]> {
  const result = await db.query<InboxRowKey>({
    name: 'inbox-prune-candidates',
    text: `SELECT i.consumer, i.message_id, i.processed_at::text AS processed_at
       FROM inbox i
      WHERE ${inboxRowMayGo}
        AND ($2::timestamptz IS NULL
             OR (i.processed_at >= $2::timestamptz
                 AND (i.processed_at, i.consumer, i.message_id) > ($2::timestamptz, $3, $4)))
      ORDER BY i.processed_at, i.consumer, i.message_id
      LIMIT $5`,
    values: [retentionMs, after?.processed_at ?? null, after?.consumer ?? '', after?.message_id ?? '', limit],
  });
  return result.rows;
}

/**
 * Deletes the given inbox rows that rules a-c still let go, checked again on each row in this
 * statement: a row that gained an outbox row or a dead letter since it was read stays. Returns how
 * many rows went.
 */
export async function deleteInboxRows(
  db: Queryable,
  retentionMs: number,
  rows: ReadonlyArray<Pick<InboxRowKey, 'consumer' | 'message_id'>>,
): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await db.query({
    name: 'inbox-prune-delete',
    text: `DELETE FROM inbox i
      USING unnest($2::text[], $3::text[]) AS c(consumer, message_id)
      WHERE i.consumer = c.consumer AND i.message_id = c.message_id
        AND ${inboxRowMayGo}`,
    values: [retentionMs, rows.map((r) => r.consumer), rows.map((r) => r.message_id)],
  });
  return result.rowCount ?? 0;
}

// The retention of idempotency_keys (rule: migrations/013_retention.sql). A key past its TTL may be
// claimed again by the next placement with it (src/orders/order.sql.ts), so deleting it changes no
// answer the API gives; it only stops the table from growing with every keyed order.
import type { Queryable } from '../platform/db.ts';

/**
 * Deletes up to `limit` keys older than `ttlMs`, oldest first, in one statement. Keys a placement is
 * claiming right now are skipped (SKIP LOCKED), and the age is checked again on the row deleted, so
 * a key claimed again (its created_at renewed) is never deleted with its new order. Returns how many.
 */
export async function pruneExpiredKeys(db: Queryable, ttlMs: number, limit: number): Promise<number> {
  const result = await db.query({
    name: 'idempotency-keys-prune',
    text: `DELETE FROM idempotency_keys k
      WHERE (k.caller, k.key) IN (
              SELECT caller, key FROM idempotency_keys
               WHERE created_at < now() - make_interval(secs => $1::double precision / 1000)
               ORDER BY created_at LIMIT $2
                 FOR UPDATE SKIP LOCKED)
        AND k.created_at < now() - make_interval(secs => $1::double precision / 1000)`,
    values: [ttlMs, limit],
  });
  return result.rowCount ?? 0;
}

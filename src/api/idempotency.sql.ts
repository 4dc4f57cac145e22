// The API's idempotency_keys table: one row per (caller, key), holding the request's hash and the
// id of the one order the key may create. The key is claimed in the order's own transaction, so the
// key and its order commit together or not at all.
import type { Client, Pool } from '../platform/db.ts';

export interface KeyRow {
  request_hash: string;
  response_status: number | null;
  response_body: { body: unknown; headers?: Record<string, string> } | null;
  order_id: string | null;
}

/**
 * Claims the key for a new order and returns the order's id, or null when the key is held. Called
 * in the order's transaction: the key row commits with its order or not at all, so a key row always
 * has its order (migration 011). A concurrent claim of the same key waits for this transaction's
 * end (the unique index), then finds the key held. A key that has outlived its time is taken over.
 */
export async function claimKey(
  client: Client,
  key: { caller: string; key: string; hash: string },
  orderId: string,
  keyTtlMs: number,
): Promise<string | null> {
  const claimed = await client.query<{ order_id: string }>({
    name: 'idempotency-claim',
    text: `INSERT INTO idempotency_keys (caller, key, request_hash, order_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (caller, key) DO UPDATE
        SET request_hash = EXCLUDED.request_hash, created_at = now(), response_status = NULL, response_body = NULL,
            order_id = EXCLUDED.order_id
      WHERE idempotency_keys.created_at < now() - make_interval(secs => $5::double precision / 1000)
     RETURNING order_id`,
    values: [key.caller, key.key, key.hash, orderId, keyTtlMs],
  });
  return claimed.rows[0]?.order_id ?? null;
}

export async function findKey(pool: Pool, caller: string, key: string): Promise<KeyRow | undefined> {
  const found = await pool.query<KeyRow>(
    `SELECT request_hash, response_status, response_body, order_id FROM idempotency_keys WHERE caller = $1 AND key = $2`,
    [caller, key],
  );
  return found.rows[0];
}

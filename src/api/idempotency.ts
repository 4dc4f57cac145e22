// Idempotency-Key for POST /orders, scoped to the caller. Claiming a key reserves the id of the
// order it will create, in the key's row; the order is written under that id, so the orders
// primary key itself refuses a second order for one key, whatever crashes between the order's
// commit and the stored answer. A retry with the same key and body gets the stored answer, or,
// when the first attempt died after its commit, an answer rebuilt from the order; while the first
// is still running it gets 409; the same key with another body gets 422. Keys are kept for at
// least the configured time (24 h or more), then may be used again.
import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Pool } from '../platform/db.ts';
import { sendError } from './errors.ts';

/** An in-progress key this old belongs to an attempt that died before creating its order. */
const staleInProgressMs = 60_000;

export interface StoredResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface IdempotentWork {
  /** Does the work, creating its order under `reservedId`. */
  run(reservedId: string): Promise<StoredResponse>;
  /** The answer for an order that already exists under `reservedId`, or undefined if there is none. */
  recover(reservedId: string): Promise<StoredResponse | undefined>;
}

interface KeyRow {
  request_hash: string;
  response_status: number | null;
  response_body: StoredResponse | null;
  order_id: string | null;
}

const isOrderIdTaken = (error: unknown) =>
  (error as { code?: string; constraint?: string }).code === '23505' &&
  (error as { constraint?: string }).constraint === 'orders_pkey';

export async function withIdempotency(
  pool: Pool,
  req: Request,
  res: Response,
  work: IdempotentWork,
  keyTtlMs: number,
  newId: () => string,
): Promise<void> {
  const key = req.get('Idempotency-Key');
  if (key === undefined) return send(res, await work.run(newId()));
  if (key.length < 1 || key.length > 200) {
    return sendError(res, { code: 'validation_failed', field: 'Idempotency-Key', message: 'must be 1-200 characters' });
  }
  const caller = String(res.locals.caller ?? 'anonymous');
  const hash = createHash('sha256')
    .update(`${req.method} ${req.originalUrl}\n${JSON.stringify(req.body ?? null)}`)
    .digest('hex');
  const reservedId = await claim(pool, caller, key, hash, newId(), keyTtlMs);
  if (reservedId === null) return replay(pool, res, caller, key, hash, work);
  let response: StoredResponse;
  try {
    response = await work.run(reservedId);
  } catch (error) {
    // Another attempt with this key committed the order first: answer with it.
    const existing = await work.recover(reservedId);
    if (existing !== undefined && isOrderIdTaken(error)) return replayed(res, existing);
    // An order committed before the failure keeps its key, so a retry finds it; otherwise the key is freed.
    if (existing === undefined) await release(pool, caller, key);
    throw error;
  }
  if (response.status >= 200 && response.status < 300) {
    await pool.query(
      `UPDATE idempotency_keys SET response_status = $3, response_body = $4 WHERE caller = $1 AND key = $2`,
      [caller, key, response.status, JSON.stringify({ body: response.body, headers: response.headers ?? {} })],
    );
  } else {
    await release(pool, caller, key);
  }
  send(res, response);
}

/**
 * Claims the key and returns the order id reserved for it, or null when the key is held. A held
 * key is taken over only when its attempt is stale with the same request (it keeps its reserved
 * id, so the orders primary key still refuses a second order), or when it has outlived its time.
 */
async function claim(
  pool: Pool,
  caller: string,
  key: string,
  hash: string,
  orderId: string,
  keyTtlMs: number,
): Promise<string | null> {
  const claimed = await pool.query<{ order_id: string }>(
    `INSERT INTO idempotency_keys (caller, key, request_hash, order_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (caller, key) DO UPDATE
        SET request_hash = EXCLUDED.request_hash, created_at = now(), response_status = NULL, response_body = NULL,
            order_id = CASE WHEN idempotency_keys.created_at < now() - make_interval(secs => $6::double precision / 1000)
                            THEN EXCLUDED.order_id ELSE coalesce(idempotency_keys.order_id, EXCLUDED.order_id) END
      WHERE idempotency_keys.created_at < now() - make_interval(secs => $6::double precision / 1000)
         OR (idempotency_keys.response_status IS NULL AND idempotency_keys.request_hash = EXCLUDED.request_hash
             AND idempotency_keys.created_at < now() - make_interval(secs => $5::double precision / 1000))
     RETURNING order_id`,
    [caller, key, hash, orderId, staleInProgressMs, keyTtlMs],
  );
  return claimed.rows[0]?.order_id ?? null;
}

async function release(pool: Pool, caller: string, key: string): Promise<void> {
  await pool.query(`DELETE FROM idempotency_keys WHERE caller = $1 AND key = $2 AND response_status IS NULL`, [
    caller,
    key,
  ]);
}

async function replay(
  pool: Pool,
  res: Response,
  caller: string,
  key: string,
  hash: string,
  work: IdempotentWork,
): Promise<void> {
  const found = await pool.query<KeyRow>(
    `SELECT request_hash, response_status, response_body, order_id FROM idempotency_keys WHERE caller = $1 AND key = $2`,
    [caller, key],
  );
  const row = found.rows[0];
  if (row !== undefined && row.request_hash !== hash) {
    return sendError(res, {
      code: 'idempotency_key_reused',
      field: 'Idempotency-Key',
      message: 'this key was used with another request',
    });
  }
  if (row?.response_status != null && row.response_body !== null) {
    return replayed(res, {
      status: row.response_status,
      body: row.response_body.body,
      headers: row.response_body.headers,
    });
  }
  // No stored answer: the first attempt is running, or died after committing its order.
  const recovered = row?.order_id == null ? undefined : await work.recover(row.order_id);
  if (recovered !== undefined) return replayed(res, recovered);
  sendError(res, {
    code: 'idempotency_request_in_progress',
    field: 'Idempotency-Key',
    message: 'a request with this key is still running',
  });
}

function replayed(res: Response, response: StoredResponse): void {
  res.set('Idempotent-Replayed', 'true');
  send(res, response);
}

function send(res: Response, response: StoredResponse): void {
  for (const [name, value] of Object.entries(response.headers ?? {})) res.set(name, value);
  res.status(response.status).json(response.body);
}

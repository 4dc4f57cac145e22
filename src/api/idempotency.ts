// Idempotency-Key for POST /orders, scoped to the caller. The key is claimed by the statement that
// writes its order (the orders module's placement), so a key and its order commit together or not
// at all: one commit, and no key is ever left "in progress" by a crash. A retry with the same key
// and body is answered from the order as it stands; the same key with another body gets 422. A
// concurrent attempt waits for the first one's commit and is answered the same way. Keys are kept
// for at least the configured time (24 h or more), then may be used again.
import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import { findPlacementKey, type PlacementKey } from '../orders/order.sql.ts';
import type { Pool } from '../platform/db.ts';
import { sendError } from './errors.ts';

export interface StoredResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface IdempotentWork {
  /** Does the work, claiming the key with its order when there is one. 'held': the key was taken. */
  run(key: PlacementKey | undefined): Promise<StoredResponse | 'held'>;
  /** The answer for the order that exists under `orderId`, or undefined if there is none. */
  recover(orderId: string): Promise<StoredResponse | undefined>;
}

export async function withIdempotency(
  pool: Pool,
  req: Request,
  res: Response,
  work: IdempotentWork,
  keyTtlMs: number,
): Promise<void> {
  const key = req.get('Idempotency-Key');
  if (key === undefined) {
    const response = await work.run(undefined);
    if (response === 'held') throw new Error('no key, yet held');
    return send(res, response);
  }
  if (key.length < 1 || key.length > 200) {
    return sendError(res, { code: 'validation_failed', field: 'Idempotency-Key', message: 'must be 1-200 characters' });
  }
  const caller = String(res.locals.caller ?? 'anonymous');
  const hash = createHash('sha256')
    .update(`${req.method} ${req.originalUrl}\n${JSON.stringify(req.body ?? null)}`)
    .digest('hex');
  const response = await work.run({ caller, key, hash, ttlMs: keyTtlMs });
  if (response !== 'held') return send(res, response);
  await replay(pool, res, caller, key, hash, work);
}

async function replay(
  pool: Pool,
  res: Response,
  caller: string,
  key: string,
  hash: string,
  work: IdempotentWork,
): Promise<void> {
  const row = await findPlacementKey(pool, caller, key);
  if (row !== undefined && row.request_hash !== hash) {
    return sendError(res, {
      code: 'idempotency_key_reused',
      field: 'Idempotency-Key',
      message: 'this key was used with another request',
    });
  }
  // Keys stored by versions before migration 011 carry their answer.
  if (row?.response_status != null && row.response_body !== null) {
    return replayed(res, {
      status: row.response_status,
      body: row.response_body.body,
      ...(row.response_body.headers === undefined ? {} : { headers: row.response_body.headers }),
    });
  }
  const recovered = row?.order_id == null ? undefined : await work.recover(row.order_id);
  if (recovered !== undefined) return replayed(res, recovered);
  // The key's row went between the claim and this read (its time ran out and another took it):
  // the client may try again.
  sendError(res, {
    code: 'idempotency_request_in_progress',
    field: 'Idempotency-Key',
    message: 'the request with this key is not settled yet; try again',
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

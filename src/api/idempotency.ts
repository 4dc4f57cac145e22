// Idempotency-Key for POSTs: the first request with a key runs; a retry with the same key and
// the same body gets the first answer again; the same key with another body is refused. Only
// successful (2xx) answers are kept: a refused request leaves no row behind.
import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Pool } from '../platform/db.ts';
import { sendError } from './errors.ts';

const staleInProgressMs = 60_000;

export interface StoredResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export async function withIdempotency(
  pool: Pool,
  req: Request,
  res: Response,
  run: () => Promise<StoredResponse>,
): Promise<void> {
  const key = req.get('Idempotency-Key');
  if (key === undefined) return send(res, await run());
  if (key.length < 1 || key.length > 200) {
    return sendError(res, { code: 'validation_failed', field: 'Idempotency-Key', message: 'must be 1-200 characters' });
  }
  const caller = String(res.locals.caller ?? 'anonymous');
  const hash = createHash('sha256')
    .update(`${req.method} ${req.originalUrl}\n${JSON.stringify(req.body ?? null)}`)
    .digest('hex');
  const claimed = await pool.query(
    `INSERT INTO idempotency_keys (caller, key, request_hash) VALUES ($1, $2, $3)
     ON CONFLICT (caller, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, created_at = now()
       WHERE idempotency_keys.response_status IS NULL
         AND idempotency_keys.created_at < now() - make_interval(secs => $4::double precision / 1000)
     RETURNING key`,
    [caller, key, hash, staleInProgressMs],
  );
  if (claimed.rowCount === 0) return replay(pool, res, caller, key, hash);
  let response: StoredResponse;
  try {
    response = await run();
  } catch (error) {
    await pool.query(`DELETE FROM idempotency_keys WHERE caller = $1 AND key = $2`, [caller, key]);
    throw error;
  }
  if (response.status >= 200 && response.status < 300) {
    await pool.query(
      `UPDATE idempotency_keys SET response_status = $3, response_body = $4 WHERE caller = $1 AND key = $2`,
      [caller, key, response.status, JSON.stringify({ body: response.body, headers: response.headers ?? {} })],
    );
  } else {
    await pool.query(`DELETE FROM idempotency_keys WHERE caller = $1 AND key = $2`, [caller, key]);
  }
  send(res, response);
}

async function replay(pool: Pool, res: Response, caller: string, key: string, hash: string): Promise<void> {
  const found = await pool.query<{
    request_hash: string;
    response_status: number | null;
    response_body: StoredResponse | null;
  }>(`SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE caller = $1 AND key = $2`, [
    caller,
    key,
  ]);
  const row = found.rows[0];
  if (row === undefined || row.response_status === null || row.response_body === null) {
    return sendError(res, {
      code: 'idempotency_request_in_progress',
      field: 'Idempotency-Key',
      message: 'a request with this key is still running',
    });
  }
  if (row.request_hash !== hash) {
    return sendError(res, {
      code: 'idempotency_key_reused',
      field: 'Idempotency-Key',
      message: 'this key was used with another request',
    });
  }
  res.set('Idempotent-Replayed', 'true');
  send(res, { status: row.response_status, body: row.response_body.body, headers: row.response_body.headers ?? {} });
}

function send(res: Response, response: StoredResponse): void {
  for (const [name, value] of Object.entries(response.headers ?? {})) res.set(name, value);
  res.status(response.status).json(response.body);
}

// The one place that maps error codes to HTTP statuses, and the error body's shape:
// { "error": { "code", "field"?, "message" }, "errors"?: [...] }. A caller's mistake is a 4xx,
// wherever it sits (body, headers, path, query); an unreachable PostgreSQL or Redis is a 503 with
// Retry-After; only a bug is a 500.
import type { NextFunction, Request, Response } from 'express';
import type { DomainError, DomainErrorCode } from '../domain/errors.ts';
import type { AuthErrorCode } from '../platform/auth.ts';
import { isConnectionError } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';

export type ApiErrorCode =
  | DomainErrorCode
  | AuthErrorCode
  | 'forbidden'
  | 'account_not_found'
  | 'not_found'
  | 'malformed_json'
  | 'malformed_request'
  | 'unsupported_media_type'
  | 'body_too_large'
  | 'rate_limited'
  | 'service_unavailable'
  | 'internal';

export interface ApiError {
  code: ApiErrorCode;
  field?: string;
  message: string;
}

export const statusByCode: Record<ApiErrorCode, number> = {
  validation_failed: 400,
  unknown_product: 400,
  unknown_currency: 400,
  currency_mismatch: 400,
  malformed_json: 400,
  malformed_request: 400,
  token_missing: 401,
  token_invalid: 401,
  token_expired: 401,
  forbidden: 403,
  order_not_found: 404,
  product_not_found: 404,
  coupon_not_found: 404,
  account_not_found: 404,
  not_found: 404,
  order_not_cancellable: 409,
  order_not_in_attention: 409,
  product_exists: 409,
  coupon_exists: 409,
  stock_conflict: 409,
  idempotency_request_in_progress: 409,
  body_too_large: 413,
  unsupported_media_type: 415,
  idempotency_key_reused: 422,
  rate_limited: 429,
  internal: 500,
  service_unavailable: 503,
};

/** Seconds a client should wait before retrying when a backing server is unreachable. */
export const unavailableRetryAfterSeconds = 5;

export function sendError(res: Response, error: ApiError | DomainError, details?: ApiError[]): void {
  if (error.code === 'token_missing' || error.code === 'token_invalid' || error.code === 'token_expired') {
    res.set('WWW-Authenticate', `Bearer error="invalid_token", error_description="${error.code}"`);
  }
  if (error.code === 'service_unavailable') res.set('Retry-After', String(unavailableRetryAfterSeconds));
  res.status(statusByCode[error.code]).json(details && details.length > 1 ? { error, errors: details } : { error });
}

/** A failure of a backing server, not of the request: raised where the API notices one itself. */
export class UnavailableError extends Error {
  override name = 'UnavailableError';
}

// Connection-level failures of PostgreSQL (class 08, shutdown and overload codes of class 57 and
// 53) and of the sockets beneath pg and ioredis.
const unavailableSqlStates = /^(08...|57P0[1-3]|53300|53400)$/;
const unavailableSocketCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
const unavailableMessages =
  /Connection terminated|timeout exceeded when trying to connect|Connection is closed|Reached the max retries per request|enableOfflineQueue|Cannot use a pool after calling end/i;

export function isUnavailable(error: unknown, depth = 0): boolean {
  if (error instanceof UnavailableError || isConnectionError(error)) return true;
  const e = error as { code?: unknown; message?: unknown; errors?: unknown[]; cause?: unknown } | null;
  if (e === null || typeof e !== 'object' || depth > 4) return false;
  if (typeof e.code === 'string' && (unavailableSqlStates.test(e.code) || unavailableSocketCodes.has(e.code)))
    return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isUnavailable(inner, depth + 1))) return true; // AggregateError of a dual-stack connect
  if (typeof e.message === 'string' && unavailableMessages.test(e.message)) return true;
  // A connection lost during COMMIT (the transaction helper's CommitOutcomeUnknownError) carries the
  // cut as its cause: the client retries, and its Idempotency-Key makes the retry safe.
  return e.cause !== undefined && isUnavailable(e.cause, depth + 1);
}

// body-parser's refusals of a request, by type: each is the caller's mistake.
const bodyErrors: Record<string, ApiError> = {
  'entity.parse.failed': { code: 'malformed_json', message: 'request body is not valid JSON' },
  'entity.too.large': { code: 'body_too_large', message: 'request body is too large' },
  'encoding.unsupported': { code: 'unsupported_media_type', message: 'unsupported Content-Encoding' },
  'charset.unsupported': { code: 'unsupported_media_type', message: 'unsupported charset' },
};

/** Bugs end here: logged with the stack, answered with a 500 that leaks nothing. */
export function errorHandler(logger: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (res.headersSent) return;
    const thrown = error as { type?: string; status?: number; statusCode?: number };
    const known = thrown.type === undefined ? undefined : bodyErrors[thrown.type];
    if (known !== undefined) return sendError(res, known);
    if (isUnavailable(error)) {
      logger.warn({ err: error, path: req.path }, 'backing server unavailable');
      return sendError(res, { code: 'service_unavailable', message: 'a backing service is unreachable; retry later' });
    }
    // Anything else express or body-parser refused with a 4xx (a bad path escape, an aborted or
    // mis-sized body) is the caller's mistake too.
    const status = thrown.status ?? thrown.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ error: { code: 'malformed_request', message: 'the request could not be read' } });
      return;
    }
    logger.error({ err: error, path: req.path }, 'unhandled error');
    sendError(res, { code: 'internal', message: 'internal error' });
  };
}

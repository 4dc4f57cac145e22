// The one place that maps domain error codes to HTTP statuses, and the error body's shape:
// { "error": { "code", "field"?, "message" }, "errors"?: [...] }.
import type { NextFunction, Request, Response } from 'express';
import type { DomainError, DomainErrorCode } from '../domain/errors.ts';
import type { Logger } from '../platform/logger.ts';

const statusByCode: Record<DomainErrorCode, number> = {
  validation_failed: 400,
  unknown_product: 400,
  unknown_currency: 400,
  currency_mismatch: 400,
  order_not_found: 404,
  product_not_found: 404,
  order_not_cancellable: 409,
  idempotency_key_reused: 422,
  idempotency_request_in_progress: 409,
};

export function sendError(res: Response, error: DomainError, details?: DomainError[]): void {
  res.status(statusByCode[error.code]).json(details && details.length > 1 ? { error, errors: details } : { error });
}

/** Bugs end here: logged with the stack, answered with a 500 that leaks nothing. */
export function errorHandler(logger: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const body = error as { type?: string; status?: number };
    if (body.type === 'entity.parse.failed') {
      res.status(400).json({ error: { code: 'malformed_json', message: 'request body is not valid JSON' } });
      return;
    }
    if (body.type === 'entity.too.large') {
      res.status(413).json({ error: { code: 'body_too_large', message: 'request body is too large' } });
      return;
    }
    logger.error({ err: error, path: req.path }, 'unhandled error');
    if (!res.headersSent) res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
  };
}

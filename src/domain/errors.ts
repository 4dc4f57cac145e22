// Expected failures are values: a code, the field it concerns, and words for a person.
// src/api/errors.ts is the one place that maps codes to HTTP statuses.
export type DomainErrorCode =
  | 'validation_failed'
  | 'unknown_product'
  | 'unknown_currency'
  | 'currency_mismatch'
  | 'order_not_found'
  | 'order_not_cancellable'
  | 'order_not_in_attention'
  | 'product_not_found'
  | 'product_exists'
  | 'coupon_not_found'
  | 'coupon_exists'
  | 'stock_conflict'
  | 'idempotency_key_reused'
  | 'idempotency_request_in_progress';

export interface DomainError {
  code: DomainErrorCode;
  field?: string;
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: DomainError };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const err = <T = never>(code: DomainErrorCode, message: string, field?: string): Result<T> => ({
  ok: false,
  error: field === undefined ? { code, message } : { code, field, message },
});

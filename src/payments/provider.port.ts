// The payment provider port, with a real provider's idempotency-key semantics: one key is one
// effect, however often it is sent. A refund that arrives before its charge voids the charge key.
import type { Money } from '../domain/money.ts';

export interface ChargeRequest {
  idempotencyKey: string;
  orderId: string;
  customerId: string;
  amount: Money;
}

export type ChargeResult =
  | { status: 'succeeded'; providerRef: string }
  | { status: 'declined'; reason: 'payment_declined' }
  /** A refund (void) arrived first for this key: the charge is refused and no money moves. */
  | { status: 'voided' };

export interface RefundRequest {
  idempotencyKey: string;
  /** The key the charge was (or will be) sent with. */
  chargeIdempotencyKey: string;
  orderId: string;
  amount: Money;
  /** Whose charge it gives back (a provider may refuse refunds per customer). */
  customerId?: string;
}

export type RefundResult =
  | { status: 'refunded'; providerRef: string; amount: Money }
  /** No charge existed under the charge key: the provider recorded a void, so a later charge is refused. */
  | { status: 'voided' }
  /** The charge was declined or voided, or is already refunded in full: no money to give back. */
  | { status: 'nothing_to_refund' }
  /** Refused for good, nothing recorded (an account closed, a dispute open): retrying the same call will not help. */
  | { status: 'refused'; reason: string };

/** A recorded result, tagged with the kind of call that made it ('voided' exists for both kinds). */
export type ProviderRecord = { kind: 'charge'; result: ChargeResult } | { kind: 'refund'; result: RefundResult };

export interface PaymentProvider {
  /** Same key twice returns the first result and never charges twice. */
  charge(request: ChargeRequest): Promise<ChargeResult>;
  /** Idempotent per key; never gives back more than was charged. */
  refund(request: RefundRequest): Promise<RefundResult>;
  /** What the provider recorded under the key, or null when it has nothing (the call never landed). */
  status(idempotencyKey: string): Promise<ProviderRecord | null>;
}

/** Nothing happened at the provider; the call may be retried with the same key. */
export class ProviderTransientError extends Error {
  override name = 'ProviderTransientError';
}

/**
 * The provider recorded the effect, but its answer was lost on the way back. Indistinguishable
 * from a transient error for the caller, which is why a retry must be safe (same key).
 */
export class ProviderLostResponseError extends ProviderTransientError {
  override name = 'ProviderLostResponseError';
}

// The engine's view of each provider call (table payments): one row per idempotency key, at most
// one charge and one refund per order (UNIQUE (order_id, kind)). The provider's own book is the
// truth about money; this table is what the engine asked and what it was told.
//
// Row status per kind:
//   charge  pending (asked, no answer yet) -> succeeded | declined | cancelled
//           (cancelled: voided by an earlier refund, given up after the last attempt, or refunded
//           before its answer came back; failure_reason says which)
//   refund  succeeded, with amount = what went back ('0' when nothing had been charged; then
//           failure_reason says why: voided | nothing_to_refund)
import { inboxHandledSql } from '../messaging/outbox.sql.ts';
import type { Client, Pool } from '../platform/db.ts';

export type PaymentKind = 'charge' | 'refund';
export type PaymentStatus = 'pending' | 'succeeded' | 'declined' | 'cancelled';

export interface PaymentRow {
  idempotency_key: string;
  order_id: string;
  kind: PaymentKind;
  status: PaymentStatus;
  amount: string;
  currency: string;
  provider_ref: string | null;
  failure_reason: string | null;
}

export const chargeKeyOf = (orderId: string): string => `${orderId}.charge`;
export const refundKeyOf = (orderId: string): string => `${orderId}.refund`;

export interface ChargeToBegin {
  messageId: string;
  idempotencyKey: string;
  orderId: string;
  amount: string;
  currency: string;
}

/**
 * Records that charges are about to be asked for, in one statement for many: a pending row per
 * charge, unless `consumer` already processed its message. Returns the message ids processed
 * before, for which nothing is written, so a redelivered job makes no provider call. A second call
 * for a key changes nothing (the inbox claim of the answer stays the guard).
 */
export async function beginCharges(pool: Pool, consumer: string, charges: ChargeToBegin[]): Promise<Set<string>> {
  const result = await pool.query<{ message_id: string }>({
    name: 'payments-begin-charges',
    text: `WITH asked AS (
         SELECT * FROM jsonb_to_recordset($2::jsonb)
             AS a(message_id text, idempotency_key text, order_id uuid, amount numeric, currency text)),
       handled AS (${inboxHandledSql('$1', 'SELECT message_id FROM asked')}),
       pending AS (
         INSERT INTO payments (idempotency_key, order_id, kind, status, amount, currency)
         SELECT idempotency_key, order_id, 'charge', 'pending', amount, currency
           FROM asked WHERE message_id NOT IN (SELECT message_id FROM handled) ORDER BY idempotency_key
         ON CONFLICT DO NOTHING)
     SELECT message_id FROM handled`,
    values: [
      consumer,
      JSON.stringify(
        charges.map((c) => ({
          message_id: c.messageId,
          idempotency_key: c.idempotencyKey,
          order_id: c.orderId,
          amount: c.amount,
          currency: c.currency,
        })),
      ),
    ],
  });
  return new Set(result.rows.map((r) => r.message_id));
}

export interface ChargeSettlement {
  status: Exclude<PaymentStatus, 'pending'>;
  providerRef: string | null;
  failureReason: string | null;
}

/**
 * Writes the providers' answers onto pending charges, in one statement. Only a pending row changes,
 * so an answer that comes back after a refund already cancelled the row does not overwrite it.
 * Returns how many rows changed.
 */
export async function settleCharges(
  client: Client,
  charges: ReadonlyArray<{ idempotencyKey: string; settlement: ChargeSettlement }>,
): Promise<number> {
  if (charges.length === 0) return 0;
  const result = await client.query({
    name: 'payments-settle-charges',
    text: `UPDATE payments p
              SET status = s.status, provider_ref = s.provider_ref, failure_reason = s.failure_reason, updated_at = now()
             FROM jsonb_to_recordset($1::jsonb) AS s(idempotency_key text, status text, provider_ref text, failure_reason text)
            WHERE p.idempotency_key = s.idempotency_key AND p.kind = 'charge' AND p.status = 'pending'`,
    values: [
      JSON.stringify(
        charges.map((c) => ({
          idempotency_key: c.idempotencyKey,
          status: c.settlement.status,
          provider_ref: c.settlement.providerRef,
          failure_reason: c.settlement.failureReason,
        })),
      ),
    ],
  });
  return result.rowCount ?? 0;
}

/** A refund asked while its charge was still unanswered: that charge will never count as paid. */
export async function cancelPendingCharge(client: Client, idempotencyKey: string): Promise<boolean> {
  const result = await client.query(
    `UPDATE payments SET status = 'cancelled', failure_reason = 'payment_cancelled', updated_at = now()
      WHERE idempotency_key = $1 AND kind = 'charge' AND status = 'pending'`,
    [idempotencyKey],
  );
  return result.rowCount === 1;
}

/** Records a finished refund. A refund row is written once, finished; a second write keeps the first. */
export async function recordRefund(
  client: Client,
  row: {
    idempotencyKey: string;
    orderId: string;
    amount: string;
    currency: string;
    providerRef: string | null;
    failureReason: string | null;
  },
): Promise<void> {
  await client.query(
    `INSERT INTO payments (idempotency_key, order_id, kind, status, amount, currency, provider_ref, failure_reason)
     VALUES ($1, $2, 'refund', 'succeeded', $3, $4, $5, $6)
     ON CONFLICT (idempotency_key) DO UPDATE
        SET status = 'succeeded', amount = EXCLUDED.amount, provider_ref = EXCLUDED.provider_ref,
            failure_reason = EXCLUDED.failure_reason, updated_at = now()
      WHERE payments.status = 'pending'`,
    [row.idempotencyKey, row.orderId, row.amount, row.currency, row.providerRef, row.failureReason],
  );
}

export async function findPayment(pool: Pool | Client, idempotencyKey: string): Promise<PaymentRow | null> {
  const result = await pool.query<PaymentRow>(
    `SELECT idempotency_key, order_id::text, kind, status, amount, currency, provider_ref, failure_reason
       FROM payments WHERE idempotency_key = $1`,
    [idempotencyKey],
  );
  return result.rows[0] ?? null;
}

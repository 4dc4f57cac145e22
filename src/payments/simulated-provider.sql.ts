// The simulated provider's own book (provider_charges), kept as a real provider keeps it: one row
// per idempotency key, so a double charge would show here as two rows and can be counted.
//
// Row status per kind:
//   charge  succeeded | declined | voided (a refund came first: the key is spent, the charge refused)
//   refund  succeeded (money went back) | voided (this refund voided the charge key) |
//           declined (nothing to refund; amount is what was asked)
import { randomUUID } from 'node:crypto';
import type { Client, Pool } from '../platform/db.ts';

export interface ProviderRow {
  id: string;
  idempotency_key: string;
  kind: 'charge' | 'refund';
  order_id: string;
  amount: string;
  currency: string;
  status: 'succeeded' | 'declined' | 'voided';
  refunds_charge: string | null;
}

const columns = 'id, idempotency_key, kind, order_id, amount, currency, status, refunds_charge';

export function newProviderId(prefix: 'ch' | 're' | 'vo'): string {
  return `${prefix}_${randomUUID().replaceAll('-', '')}`;
}

export interface NewRow {
  idempotencyKey: string;
  kind: 'charge' | 'refund';
  orderId: string;
  amount: string;
  currency: string;
  status: ProviderRow['status'];
  refundsCharge?: string;
}

/**
 * Records a row unless its key is taken, and returns the row that holds the key: the new one, or
 * the first one ever recorded (a concurrent insert with the same key waits for the other to
 * commit, then yields to it). `created` tells which.
 */
export async function recordOnce(
  db: Pool | Client,
  id: string,
  row: NewRow,
): Promise<{ row: ProviderRow; created: boolean }> {
  const inserted = await db.query<ProviderRow>({
    name: 'provider-record-once',
    text: `INSERT INTO provider_charges (id, idempotency_key, kind, order_id, amount, currency, status, refunds_charge)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (idempotency_key) DO NOTHING
     RETURNING ${columns}`,
    values: [
      id,
      row.idempotencyKey,
      row.kind,
      row.orderId,
      row.amount,
      row.currency,
      row.status,
      row.refundsCharge ?? null,
    ],
  });
  const created = inserted.rows[0];
  if (created !== undefined) return { row: created, created: true };
  const existing = await findByKey(db, row.idempotencyKey);
  if (existing === null) throw new Error(`provider_charges: key ${row.idempotencyKey} conflicted but is not there`);
  return { row: existing, created: false };
}

export async function findByKey(db: Pool | Client, idempotencyKey: string, lock = false): Promise<ProviderRow | null> {
  const result = await db.query<ProviderRow>(
    `SELECT ${columns} FROM provider_charges WHERE idempotency_key = $1 ${lock ? 'FOR UPDATE' : ''}`,
    [idempotencyKey],
  );
  return result.rows[0] ?? null;
}

/** What has gone back so far against one charge. Read under the charge row's lock. */
export async function refundedSoFar(client: Client, chargeId: string): Promise<string> {
  const result = await client.query<{ refunded: string }>(
    `SELECT coalesce(sum(amount), 0)::text AS refunded
       FROM provider_charges
      WHERE refunds_charge = $1 AND kind = 'refund' AND status = 'succeeded'`,
    [chargeId],
  );
  return result.rows[0]?.refunded ?? '0';
}

/** Per order and currency, what the provider holds: the number that must be zero after a compensation. */
export interface ProviderNet {
  orderId: string;
  currency: string;
  /** Succeeded charge rows; more than one would be a double charge. */
  chargesSucceeded: number;
  /** Decimal strings (NUMERIC, four places). */
  charged: string;
  refunded: string;
  /** charged - refunded. */
  net: string;
}

/** Counts the provider's book, for tests and the chaos invariant checker. Every order when orderIds is omitted. */
export async function providerNetByOrder(pool: Pool, orderIds?: readonly string[]): Promise<ProviderNet[]> {
  const result = await pool.query<{
    order_id: string;
    currency: string;
    charges_succeeded: number;
    charged: string;
    refunded: string;
    net: string;
  }>(
    `SELECT order_id::text, currency,
            count(*) FILTER (WHERE kind = 'charge' AND status = 'succeeded')::int AS charges_succeeded,
            coalesce(sum(amount) FILTER (WHERE kind = 'charge' AND status = 'succeeded'), 0)::text AS charged,
            coalesce(sum(amount) FILTER (WHERE kind = 'refund' AND status = 'succeeded'), 0)::text AS refunded,
            (coalesce(sum(amount) FILTER (WHERE kind = 'charge' AND status = 'succeeded'), 0)
             - coalesce(sum(amount) FILTER (WHERE kind = 'refund' AND status = 'succeeded'), 0))::text AS net
       FROM provider_charges
      WHERE $1::uuid[] IS NULL OR order_id = ANY($1::uuid[])
      GROUP BY order_id, currency
      ORDER BY order_id, currency`,
    [orderIds === undefined ? null : [...orderIds]],
  );
  return result.rows.map((r) => ({
    orderId: r.order_id,
    currency: r.currency,
    chargesSucceeded: r.charges_succeeded,
    charged: r.charged,
    refunded: r.refunded,
    net: r.net,
  }));
}

/** Orders the provider charged successfully more than once: zero unless money was taken twice. */
export async function doubleChargedOrderCount(db: Pool | Client): Promise<number> {
  const result = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM (SELECT order_id FROM provider_charges WHERE kind = 'charge' AND status = 'succeeded'
        GROUP BY order_id HAVING count(*) > 1) d`,
  );
  return Number(result.rows[0]?.n ?? 0);
}

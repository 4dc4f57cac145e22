// Reads of the inventory module's tables (stock, reservations) for the invariant check. Nothing
// here writes. Whether an order is final is the orders module's to say: the caller composes.
import type { Queryable } from '../platform/db.ts';

export interface StockConservation {
  /** Units held or sold beyond on_hand, plus any negative available: zero unless stock was oversold. */
  oversoldUnits: number;
  /** Products whose available + held + sold differs from on_hand. */
  unconservedProducts: number;
}

export async function stockConservation(db: Queryable): Promise<StockConservation> {
  const result = await db.query<{ oversold: string; unconserved: string }>(
    `SELECT coalesce(sum(greatest(held + sold - on_hand, 0) + greatest(-available, 0)), 0) AS oversold,
            count(*) FILTER (WHERE available + held + sold <> on_hand) AS unconserved FROM stock`,
  );
  return {
    oversoldUnits: Number(result.rows[0]?.oversold ?? 0),
    unconservedProducts: Number(result.rows[0]?.unconserved ?? 0),
  };
}

/** Units still held, per order. Only orders in flight should appear: a final order holds nothing. */
export async function heldUnitsByOrder(db: Queryable): Promise<Map<string, number>> {
  const result = await db.query<{ order_id: string; held: string }>(
    `SELECT order_id::text, sum(quantity) AS held FROM reservations WHERE status = 'held' GROUP BY order_id`,
  );
  return new Map(result.rows.map((r) => [r.order_id, Number(r.held)]));
}

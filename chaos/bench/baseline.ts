// The baseline: the same order written as ONE transaction at READ COMMITTED on the engine's own
// schema, as a plain service would write it. No queues, no locks, no machine. It does what the
// engine's order does to the books: takes the stock (conditional decrement), writes the order row
// already confirmed, posts a balanced ledger transaction with its two entries (the engine's own
// statement, accounts created on first use), and one Kafka-bound outbox row (the engine's own
// statement, which also wakes the relay). Unbalanced entries or oversold stock cannot commit here
// either: the same constraints and triggers guard both.
import { randomUUID } from 'node:crypto';
import { isCurrency, money, toAmountString } from '../../src/domain/money.ts';
import { subtotalOf } from '../../src/domain/order-totals.ts';
import { orderPaymentEntries } from '../../src/domain/posting.ts';
import { insertTransaction } from '../../src/ledger/ledger.sql.ts';
import { insertOutbox } from '../../src/messaging/outbox.sql.ts';
import type { Pool } from '../../src/platform/db.ts';
import { messageIdFor } from '../../queues/message.ts';
import type { OrderShape, Placement } from './load.ts';

const shippingAddress = { name: 'B', line1: '1 Road', city: 'Town', postal_code: '1000', country: 'GB' };

/** Places one order in one transaction; 'rejected' (out_of_stock) rolls back and writes nothing. */
export async function placeBaselineOrder(pool: Pool, order: OrderShape, topic: string): Promise<Placement> {
  const orderId = randomUUID();
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
    const product = await client.query<{ price: string; currency: string }>({
      name: 'baseline-price',
      text: 'SELECT price, currency FROM products WHERE id = $1',
      values: [order.productId],
    });
    const row = product.rows[0];
    if (row === undefined || !isCurrency(row.currency)) throw new Error(`no product ${order.productId}`);
    const taken = await client.query({
      name: 'baseline-take-stock',
      text: `UPDATE stock SET available = available - $2, sold = sold + $2 WHERE product_id = $1 AND available >= $2`,
      values: [order.productId, order.quantity],
    });
    if (taken.rowCount === 0) {
      await client.query('ROLLBACK');
      return { orderId: null, outcome: 'final', status: 'rejected', ms: 0, at: 0 };
    }
    const currency = row.currency;
    const subtotal = toAmountString(
      subtotalOf(
        [{ productId: order.productId, quantity: order.quantity, unitPrice: money(row.price, currency) }],
        currency,
      ),
    );
    const items = [{ product_id: order.productId, quantity: order.quantity }];
    await client.query({
      name: 'baseline-insert-order',
      text: `INSERT INTO orders (id, user_id, currency, status, state, snapshot, version, items, subtotal, total,
                                 shipping_address, correlation_id, finalized_at)
             VALUES ($1, $2, $3, 'confirmed', 'confirmed', '{}', 1, $4, $5, $5, $6, $7, now())`,
      values: [
        orderId,
        order.userId,
        currency,
        JSON.stringify(items),
        subtotal,
        JSON.stringify(shippingAddress),
        orderId,
      ],
    });
    const entries = orderPaymentEntries({ userId: order.userId, subtotal, discount: '0', total: subtotal, currency });
    await insertTransaction(
      client,
      { id: randomUUID(), orderId, kind: 'order.payment', reverses: null, description: `order ${orderId}` },
      entries,
    );
    await insertOutbox(client, [
      {
        messageId: messageIdFor(orderId, 'order.confirmed'),
        orderId,
        correlationId: orderId,
        type: 'order.confirmed',
        destination: `kafka:${topic}`,
        payload: { order_id: orderId, user_id: order.userId, items, subtotal, total: subtotal, currency },
      },
    ]);
    await client.query('COMMIT');
    return { orderId, outcome: 'final', status: 'confirmed', ms: 0, at: 0 };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * The baseline's events are never relayed (no relay runs while it does); marking them published
 * afterwards keeps the next engine phase's relay from carrying them. Not measured.
 */
export async function retireBaselineEvents(
  query: (text: string, values: unknown[]) => Promise<unknown>,
  orderIds: string[],
): Promise<void> {
  const messageIds = orderIds.map((id) => messageIdFor(id, 'order.confirmed'));
  for (let i = 0; i < messageIds.length; i += 5_000) {
    await query(`UPDATE outbox SET published_at = now() WHERE message_id = ANY($1::text[]) AND published_at IS NULL`, [
      messageIds.slice(i, i + 5_000),
    ]);
  }
}

// The public JSON shape of an order. Money is a string with its currency.
import { formatAmount } from '../domain/money.ts';
import type { OrderRow } from '../orders/order.sql.ts';

export function orderView(order: OrderRow) {
  return {
    id: order.id,
    status: order.status,
    state: order.state,
    failure_reason: order.failure_reason,
    user_id: order.user_id,
    currency: order.currency,
    items: order.items,
    subtotal: formatAmount(order.subtotal, order.currency),
    discount: formatAmount(order.discount, order.currency),
    total: formatAmount(order.total, order.currency),
    coupon_code: order.coupon_code,
    shipping_address: order.shipping_address,
    version: order.version,
    created_at: order.created_at.toISOString(),
    updated_at: order.updated_at.toISOString(),
    finalized_at: order.finalized_at?.toISOString() ?? null,
  };
}

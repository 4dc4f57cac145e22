// The engine's client in the bench: POST /api/v1/orders with an admin Bearer token, ordering on
// behalf of the bench's customers (with or without `Prefer: wait`).
import type { BenchContext } from './phases.ts';
import { orderShape, type Placer, type ProductPicker } from './load.ts';

// The seed document's address shape, as the API takes it.
const shippingAddress = { street: '1 Road', city: 'Town', state: 'CA', postal_code: '94105', country: 'US' };

/** POST /api/v1/orders as an admin ordering for a customer; with waitSeconds > 0, `Prefer: wait`. */
export function httpPlacer(
  context: Pick<BenchContext, 'apiUrl' | 'token'>,
  pick: ProductPicker,
  waitSeconds: number,
): Placer {
  return async (n) => {
    const order = orderShape(n, pick);
    const post = (address: typeof shippingAddress) =>
      fetch(`${context.apiUrl}/api/v1/orders`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${context.token}`,
          ...(waitSeconds > 0 ? { Prefer: `wait=${waitSeconds}` } : {}),
        },
        body: JSON.stringify({
          user_id: order.userId,
          currency: 'USD',
          items: [{ product_id: order.productId, quantity: order.quantity }],
          shipping_address: address,
        }),
      });
    const response = await post(shippingAddress);
    const text = await response.text();
    if (response.status !== 201 && response.status !== 202) {
      return {
        orderId: null,
        outcome: 'error',
        status: String(response.status),
        ms: 0,
        at: 0,
        error: text.slice(0, 300),
      };
    }
    const body = JSON.parse(text) as { id: string; status: string };
    return {
      orderId: body.id,
      outcome: response.status === 201 ? 'final' : 'accepted',
      status: body.status,
      ms: 0,
      at: 0,
    };
  };
}

// The engine's client in the bench, as a checkout calls it: POST /api/v1/orders with the customer's
// own Bearer token, a new Idempotency-Key per order, and (for saturation) `Prefer: wait`.
import { randomUUID } from 'node:crypto';
import { orderShape, type Placer, type ProductPicker } from './load.ts';

export interface EngineClient {
  apiUrl: string;
  /** Each customer's own token. */
  customerTokens: ReadonlyMap<string, string>;
}

// The seed document's address shape, as the API takes it.
const shippingAddress = { street: '1 Road', city: 'Town', state: 'CA', postal_code: '94105', country: 'US' };

/** POST /api/v1/orders as the order's customer; with waitSeconds > 0, `Prefer: wait`. */
export function httpPlacer(client: EngineClient, pick: ProductPicker, waitSeconds: number): Placer {
  return async (n) => {
    const order = orderShape(n, pick, client.customerTokens.size);
    const token = client.customerTokens.get(order.userId);
    if (token === undefined) throw new Error(`no token for ${order.userId}`);
    const post = (address: typeof shippingAddress) =>
      fetch(`${client.apiUrl}/api/v1/orders`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${token}`,
          'Idempotency-Key': randomUUID(),
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

// The engine's client in the bench: POST /api/v1/orders with an admin Bearer token, ordering on
// behalf of the bench's customers (with or without `Prefer: wait`).
import type { BenchContext } from './phases.ts';
import { orderShape, type Placer, type ProductPicker } from './load.ts';

// The API's address shape is changing (line1 today; the seed's street/state next). The bench
// sends one and switches for good on the first 400 that names the address, so it runs on both.
const addressShapes: Record<string, string>[] = [
  { name: 'B', line1: '1 Road', city: 'Town', postal_code: '1000', country: 'GB' },
  { name: 'B', street: '1 Road', city: 'Town', postal_code: '1000', country: 'GB' },
];
let addressShape = 0;

function refusesAddress(status: number, text: string): boolean {
  return status === 400 && /"field":"shipping_address/.test(text);
}

/** POST /api/v1/orders as an admin ordering for a customer; with waitSeconds > 0, `Prefer: wait`. */
export function httpPlacer(
  context: Pick<BenchContext, 'apiUrl' | 'token'>,
  pick: ProductPicker,
  waitSeconds: number,
): Placer {
  return async (n) => {
    const order = orderShape(n, pick);
    const post = (address: Record<string, string>) =>
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
    const shape = addressShape;
    let response = await post(addressShapes[shape]!);
    let text = await response.text();
    if (refusesAddress(response.status, text)) {
      if (addressShape === shape) addressShape = (shape + 1) % addressShapes.length;
      response = await post(addressShapes[addressShape]!);
      text = await response.text();
    }
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

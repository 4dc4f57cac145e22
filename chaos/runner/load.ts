// Load through the HTTP API as clients send it: each planned order at its time, with an
// Idempotency-Key, retried while the API is away (killed, restarting) as a careful client retries;
// some orders are cancelled a little later. Steering of the simulated provider is by test customer.
import { sleep } from '../../src/platform/db.ts';
import type { PlannedOrder } from './schedule.ts';
import type { Fixtures } from './setup.ts';

const attemptsMax = 40;
const retryDelayMs = 500;
// Long: a thousand buyers at once queue up at the API, and a timed-out request is only retried.
const requestTimeoutMs = 60_000;

export interface LoadStats {
  sent: number;
  accepted: number;
  /** Refused with a 4xx: never expected from this load, kept as evidence. */
  refused: Array<{ n: number; status: number; body: string }>;
  /** Never answered after every retry (the order may still exist: the checks find it by tag). */
  unanswered: number;
  cancelsSent: number;
  /** Orders sent per kind: plain, coupon, scarce, and the provider's test customers. */
  sentByKind: Record<string, number>;
  retries: number;
  orderIds: string[];
  /** When the last answer came, ms after the load started. */
  lastAnswerAtMs: number;
}

const address = {
  name: 'Chaos Runner',
  street: '1 Fault Line',
  city: 'Springfield',
  state: 'IL',
  postal_code: '62701',
  country: 'US',
};

export function userIdOf(order: PlannedOrder, tag: string): string {
  const prefix = {
    plain: 'c',
    coupon: 'c',
    scarce: 'c',
    decline: 'test_decline',
    transient: 'test_transient_2',
    lost_response: 'test_lost_response',
  }[order.kind];
  return `${prefix}.${tag}.${order.n}`;
}

export function bodyOf(order: PlannedOrder, fixtures: Fixtures): Record<string, unknown> {
  const body: Record<string, unknown> = {
    user_id: userIdOf(order, fixtures.tag),
    currency: 'USD',
    items: [{ product_id: fixtures.productIds[order.product]!, quantity: order.quantity }],
    shipping_address: address,
  };
  if (order.kind === 'coupon') {
    body.coupon_code = order.n % 4 === 0 ? fixtures.couponCodes.few : fixtures.couponCodes.plenty;
  }
  return body;
}

export class LoadGenerator {
  readonly stats: LoadStats = {
    sent: 0,
    accepted: 0,
    refused: [],
    unanswered: 0,
    cancelsSent: 0,
    sentByKind: {},
    retries: 0,
    orderIds: [],
    lastAnswerAtMs: 0,
  };
  private inFlight = 0;
  private startedAt = 0;

  constructor(
    private readonly apiUrl: string,
    private readonly token: string,
    private readonly fixtures: Fixtures,
    private readonly inFlightMax = 300,
  ) {}

  /** Sends every planned order at its time; resolves when every order and cancel has its answer. */
  async run(orders: readonly PlannedOrder[], stopped: () => boolean): Promise<void> {
    this.startedAt = Date.now();
    const pending: Array<Promise<void>> = [];
    for (const order of orders) {
      const waitMs = order.atMs - (Date.now() - this.startedAt);
      if (waitMs > 0) await sleep(waitMs);
      while (this.inFlight >= this.inFlightMax) await sleep(10);
      if (stopped()) break;
      pending.push(this.place(order));
    }
    await Promise.all(pending);
  }

  private async place(order: PlannedOrder): Promise<void> {
    this.inFlight++;
    this.stats.sent++;
    this.stats.sentByKind[order.kind] = (this.stats.sentByKind[order.kind] ?? 0) + 1;
    try {
      const key = `chaos-${this.fixtures.tag}-${order.n}`;
      const answer = await this.request('POST', '/api/v1/orders', bodyOf(order, this.fixtures), key);
      this.stats.lastAnswerAtMs = Date.now() - this.startedAt;
      if (answer === null) {
        this.stats.unanswered++;
        return;
      }
      if (answer.status >= 400) {
        this.stats.refused.push({ n: order.n, status: answer.status, body: JSON.stringify(answer.body).slice(0, 300) });
        return;
      }
      const id = String((answer.body as { id?: unknown }).id);
      this.stats.accepted++;
      this.stats.orderIds.push(id);
      if (order.cancelAfterMs !== null) {
        await sleep(order.cancelAfterMs);
        this.stats.cancelsSent++;
        // 202 or 409 order_not_cancellable: both are answers; only the outcome is checked later.
        await this.request('POST', `/api/v1/orders/${id}/cancel`, {}, `chaos-${this.fixtures.tag}-${order.n}-cancel`);
      }
    } finally {
      this.inFlight--;
    }
  }

  /** The answer, or null when the API never answered. Retries a refused connection, a timeout and a 5xx. */
  private async request(
    method: string,
    path: string,
    body: unknown,
    idempotencyKey: string,
  ): Promise<{ status: number; body: unknown } | null> {
    for (let attempt = 1; attempt <= attemptsMax; attempt++) {
      try {
        const response = await fetch(`${this.apiUrl}${path}`, {
          method,
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${this.token}`,
            'idempotency-key': idempotencyKey,
            // The same on every retry: orders of one request share it, which the checks count.
            'x-correlation-id': idempotencyKey,
          },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(requestTimeoutMs),
        });
        const text = await response.text();
        const answer = { status: response.status, body: text.length > 0 ? (JSON.parse(text) as unknown) : null };
        // The first try with this key is still running (its answer was lost to a timeout): ask again.
        const inProgress = text.includes('"idempotency_request_in_progress"');
        if (response.status < 500 && response.status !== 429 && !inProgress) return answer;
      } catch {
        // The API is down or restarting: retry like a client would.
      }
      this.stats.retries++;
      await sleep(retryDelayMs);
    }
    return null;
  }
}

// The runtime's step (src/orders/order.step.ts) reuses one inert actor scope for every transition
// instead of XState's transition(), which builds a new one per call. This proves the two agree on
// every state reachable within a few events, for every event: the same next snapshot, the same
// intents, and the runtime's messages follow from those intents.
import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { orderMachine, type OrderEvent, type OrderInput } from '../../machines/order.machine.ts';
import { stateName } from '../../machines/order.status.ts';
import { persist, restore, start, step, type OrderSnapshot } from '../../src/orders/order.step.ts';
import { baseInput, withCoupon } from '../support/order-inputs.ts';

const events: OrderEvent[] = [
  { type: 'order.placed' },
  { type: 'inventory.reserved', expires_at: '2026-12-01T00:00:00.000Z' },
  { type: 'inventory.rejected', reason: 'out_of_stock', product_id: 'sku-1' },
  { type: 'inventory.committed' },
  { type: 'inventory.released' },
  { type: 'coupon.redeemed', discount: '10.00' },
  { type: 'coupon.rejected', reason: 'coupon_expired' },
  { type: 'coupon.restored' },
  { type: 'payment.succeeded', provider_ref: 'ch_1' },
  { type: 'payment.failed', reason: 'payment_declined' },
  { type: 'payment.refunded', amount: '89.95' },
  { type: 'ledger.posted', transaction_id: 't1' },
  { type: 'ledger.reversed' },
  { type: 'reservation.expired' },
  { type: 'payment.deadline' },
  { type: 'order.cancel' },
];
const at = { correlationId: 'c-1', occurredAt: new Date('2026-12-01T00:00:00Z'), topic: 'order-events' };

/** What XState itself answers, with a fresh actor scope per call. */
function reference(snapshot: OrderSnapshot, event: OrderEvent) {
  const [next, actions] = transition(orderMachine, snapshot, event);
  return { value: next.value, context: next.context, status: next.status, actions: actions.map(intentOf) };
}

function intentOf(action: { type: string; params?: unknown }) {
  return { type: action.type, params: action.params };
}

function compareFrom(input: OrderInput, depth: number): number {
  let compared = 0;
  const [initial] = initialTransition(orderMachine, input);
  expect(persist(start(input))).toEqual(orderMachine.getPersistedSnapshot(initial));
  let frontier: OrderSnapshot[] = [initial];
  const seen = new Set<string>();
  for (let level = 0; level < depth; level++) {
    const next: OrderSnapshot[] = [];
    for (const snapshot of frontier) {
      for (const event of events) {
        const expected = reference(snapshot, event);
        // From the stored form, as the runtime restores it, and from the live snapshot.
        const got = step(restore(JSON.parse(JSON.stringify(persist(snapshot)))), event, at);
        expect({ value: got.snapshot.value, context: got.snapshot.context, status: got.snapshot.status }).toEqual({
          value: expected.value,
          context: expected.context,
          status: expected.status,
        });
        expect(got.to).toBe(stateName(expected.value));
        const intents = expected.actions.filter((a) => ['command', 'publish', 'schedule'].includes(a.type));
        expect(got.messages).toHaveLength(intents.length);
        expect(got.withdrawn).toHaveLength(expected.actions.filter((a) => a.type === 'withdraw').length);
        compared++;
        const key = JSON.stringify(persist(got.snapshot));
        if (got.changed && !seen.has(key)) {
          seen.add(key);
          next.push(got.snapshot);
        }
      }
    }
    frontier = next;
  }
  return compared;
}

describe('the runtime step against XState transition()', () => {
  it.each([
    ['without a coupon', baseInput],
    ['with a coupon', withCoupon],
  ])('agrees on every state reachable in eight events, %s', (_name, input) => {
    expect(compareFrom(input, 8)).toBeGreaterThan(400);
  });
});

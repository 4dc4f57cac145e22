// The order machine, table-driven: the happy paths intent by intent, failures compensating in
// reverse order, what it ignores, and its persisted form (the exhaustive walk is in
// order.machine.test.ts).
import { initialTransition, transition } from 'xstate';
import { describe, expect, it } from 'vitest';
import { orderMachine, type OrderEvent, type OrderInput } from '../../machines/order.machine.ts';
import { isFinalStatus, stateName, statusOf } from '../../machines/order.status.ts';
import type { Outcome } from '../../machines/order.types.ts';
import { baseInput, withCoupon } from '../support/order-inputs.ts';

type Step = [OrderEvent, ...string[]];

/** Steps the machine through events, persisting and resolving the snapshot between steps like the runtime. */
function run(input: OrderInput, events: OrderEvent[]) {
  let [snapshot] = initialTransition(orderMachine, input);
  const intents: string[][] = [];
  for (const event of events) {
    const resolved = orderMachine.resolveState(JSON.parse(JSON.stringify(orderMachine.getPersistedSnapshot(snapshot))));
    const [next, actions] = transition(orderMachine, resolved, event);
    intents.push(actions.map((a) => `${a.type} ${String((a.params as { type: string }).type)}`));
    snapshot = next;
  }
  return { snapshot, intents, name: stateName(snapshot.value) };
}

const placed: OrderEvent = { type: 'order.placed' };
const reserved: OrderEvent = { type: 'inventory.reserved', expires_at: '2030-01-01T00:00:00.000Z' };
const redeemed: OrderEvent = { type: 'coupon.redeemed', discount: '10.00' };
const succeeded: OrderEvent = { type: 'payment.succeeded', provider_ref: 'ref-1' };
const posted: OrderEvent = { type: 'ledger.posted', transaction_id: 'tx-1' };
const committed: OrderEvent = { type: 'inventory.committed' };
const cancel: OrderEvent = { type: 'order.cancel' };

describe('order machine: the happy paths, intent by intent', () => {
  // Once paid, the timers are withdrawn and the posting and the stock commit are asked at once.
  const succeededStep: Step = [
    succeeded,
    'withdraw payment.deadline',
    'withdraw reservation.expired',
    'publish payment.captured',
    'command ledger.post',
    'command inventory.commit',
  ];
  const paid: Step[] = [succeededStep, [posted, 'publish ledger.posted'], [committed, 'publish order.confirmed']];
  const paidStockFirst: Step[] = [
    succeededStep,
    [committed],
    [posted, 'publish ledger.posted', 'publish order.confirmed'],
  ];
  it.each<[string, OrderInput, Step[]]>([
    [
      'without a coupon',
      baseInput,
      [
        [placed, 'command inventory.reserve', 'publish order.created'],
        [
          reserved,
          'schedule reservation.expired',
          'publish inventory.reserved',
          'command payment.charge',
          'schedule payment.deadline',
        ],
        ...paid,
      ],
    ],
    [
      'with a coupon',
      withCoupon,
      [
        [placed, 'command inventory.reserve', 'publish order.created'],
        [reserved, 'schedule reservation.expired', 'publish inventory.reserved', 'command coupon.redeem'],
        [redeemed, 'command payment.charge', 'schedule payment.deadline'],
        ...paid,
      ],
    ],
    [
      'when the stock commit answers before the posting',
      baseInput,
      [
        [placed, 'command inventory.reserve', 'publish order.created'],
        [
          reserved,
          'schedule reservation.expired',
          'publish inventory.reserved',
          'command payment.charge',
          'schedule payment.deadline',
        ],
        ...paidStockFirst,
      ],
    ],
  ])('%s', (_, input, steps) => {
    const result = run(
      input,
      steps.map(([event]) => event),
    );
    expect(result.intents).toEqual(steps.map(([, ...intents]) => intents));
    expect(result.name).toBe('confirmed');
    expect(statusOf(result.name, result.snapshot.context)).toBe('confirmed');
  });

  it('charges and books the total after the discount', () => {
    const [snapshot] = initialTransition(orderMachine, withCoupon);
    let current = snapshot;
    const actions: Array<{ type: string; params: unknown }> = [];
    for (const event of [placed, reserved, redeemed, succeeded]) {
      const [next, emitted] = transition(orderMachine, current, event);
      actions.push(...(emitted as typeof actions));
      current = next;
    }
    const command = (type: string) => actions.find((a) => (a.params as { type: string }).type === type)?.params;
    expect(command('payment.charge')).toMatchObject({
      payload: { amount: '89.95', currency: 'USD', customer_id: 'user-1' },
    });
    expect(command('ledger.post')).toMatchObject({ payload: { subtotal: '99.95', discount: '10.00', total: '89.95' } });
  });
});

const acks: Record<string, OrderEvent> = {
  'ledger.reverse': { type: 'ledger.reversed' },
  'payment.refund': { type: 'payment.refunded', amount: '99.95' },
  'coupon.restore': { type: 'coupon.restored' },
  'inventory.release': { type: 'inventory.released' },
};

interface FailureCase {
  name: string;
  input: OrderInput;
  events: OrderEvent[];
  undos: string[];
  final: string;
  reason: string;
}

const toCoupon = [placed, reserved];
const toCharge = [placed, reserved, redeemed];
const couponRejected = (reason: string): FailureCase => ({
  name: reason,
  input: withCoupon,
  events: [...toCoupon, { type: 'coupon.rejected', reason }],
  undos: ['coupon.restore', 'inventory.release'],
  final: 'rejected',
  reason,
});
const byCustomer = { final: 'cancelled', reason: 'cancelled_by_customer' };
const refundAndRelease = ['payment.refund', 'inventory.release'];

const failureCases: FailureCase[] = [
  {
    name: 'out of stock',
    input: baseInput,
    events: [placed, { type: 'inventory.rejected', reason: 'out_of_stock' }],
    undos: [],
    final: 'rejected',
    reason: 'out_of_stock',
  },
  couponRejected('coupon_invalid'),
  couponRejected('coupon_already_used'),
  couponRejected('coupon_expired'),
  {
    name: 'payment declined',
    input: withCoupon,
    events: [...toCharge, { type: 'payment.failed', reason: 'payment_declined' }],
    undos: ['payment.refund', 'coupon.restore', 'inventory.release'],
    final: 'failed',
    reason: 'payment_declined',
  },
  {
    name: 'payment timeout',
    input: baseInput,
    events: [...toCoupon, { type: 'payment.failed', reason: 'payment_timeout' }],
    undos: refundAndRelease,
    final: 'failed',
    reason: 'payment_timeout',
  },
  {
    name: 'payment deadline',
    input: baseInput,
    events: [...toCoupon, { type: 'payment.deadline' }],
    undos: refundAndRelease,
    final: 'failed',
    reason: 'payment_timeout',
  },
  {
    name: 'cancel while reserving',
    input: baseInput,
    events: [placed, cancel],
    undos: ['inventory.release'],
    ...byCustomer,
  },
  {
    name: 'cancel before payment',
    input: withCoupon,
    events: [...toCoupon, cancel],
    undos: ['coupon.restore', 'inventory.release'],
    ...byCustomer,
  },
  {
    name: 'cancel while charging',
    input: baseInput,
    events: [...toCoupon, cancel],
    undos: refundAndRelease,
    ...byCustomer,
  },
  {
    name: 'operator force-cancel of a stuck charge',
    input: baseInput,
    events: [...toCoupon, { type: 'order.cancel', reason: 'cancelled_by_operator' }],
    undos: refundAndRelease,
    final: 'cancelled',
    reason: 'cancelled_by_operator',
  },
  {
    name: 'cancel after confirmation',
    input: withCoupon,
    events: [...toCharge, succeeded, posted, committed, cancel],
    undos: ['ledger.reverse', 'payment.refund', 'coupon.restore', 'inventory.release'],
    ...byCustomer,
  },
  {
    name: 'reservation expiry while redeeming',
    input: withCoupon,
    events: [...toCoupon, { type: 'reservation.expired' }],
    undos: ['coupon.restore', 'inventory.release'],
    final: 'expired',
    reason: 'reservation_expired',
  },
  {
    name: 'reservation expiry while charging',
    input: withCoupon,
    events: [...toCharge, { type: 'reservation.expired' }],
    undos: ['payment.refund', 'coupon.restore', 'inventory.release'],
    final: 'expired',
    reason: 'reservation_expired',
  },
];

/** Acknowledges each undo as it comes, checking that only one is ever outstanding. */
function acknowledgeUndos(failed: ReturnType<typeof run>) {
  const undone: string[] = [];
  let { snapshot } = failed;
  let intents = failed.intents.at(-1) ?? [];
  for (let round = 0; round < 4 && intents.some((i) => i.startsWith('command')); round += 1) {
    const commands = intents.filter((i) => i.startsWith('command')).map((i) => i.slice('command '.length));
    // One undo at a time: the next waits for the acknowledgement of the one before.
    expect(commands).toHaveLength(1);
    const undo = commands[0] ?? '';
    const ack = acks[undo];
    if (ack === undefined) throw new Error(`${undo} is not an undo`);
    undone.push(undo);
    const [next, actions] = transition(orderMachine, snapshot, ack);
    snapshot = next;
    intents = actions.map((a) => `${a.type} ${String((a.params as { type: string }).type)}`);
  }
  return { undone, snapshot, intents };
}

describe('order machine: failures compensate in reverse order', () => {
  it.each(failureCases)('$name', ({ input, events, undos, final, reason }) => {
    const { undone, snapshot, intents } = acknowledgeUndos(run(input, events));
    expect(undone).toEqual(undos);
    expect(stateName(snapshot.value)).toBe(final);
    expect(snapshot.status).toBe('done');
    expect(snapshot.context.failureReason).toBe(reason);
    expect(intents).toContain(`publish order.${final}`);
    expect(snapshot.can(cancel)).toBe(false);
  });
});

describe('order machine: what it ignores, and its persisted form', () => {
  it.each<[string, OrderInput, OrderEvent[], OrderEvent]>([
    ['an answer before the order is placed', baseInput, [], succeeded],
    ['a coupon answer while reserving', withCoupon, [placed], redeemed],
    ['a late payment success while refunding', baseInput, [placed, reserved, { type: 'payment.deadline' }], succeeded],
    ['a late reservation while releasing', baseInput, [placed, cancel], reserved],
    ['the payment deadline once settling', baseInput, [placed, reserved, succeeded], { type: 'payment.deadline' }],
    [
      'the reservation expiry once confirmed',
      baseInput,
      [placed, reserved, succeeded, posted, committed],
      { type: 'reservation.expired' },
    ],
    ['a cancel while compensating', baseInput, [placed, reserved, { type: 'payment.deadline' }], cancel],
    ['a cancel once cancelled', baseInput, [placed, cancel, { type: 'inventory.released' }], cancel],
  ])('leaves the snapshot unchanged on %s', (_, input, events, extra) => {
    const { snapshot } = run(input, events);
    const [next, actions] = transition(orderMachine, snapshot, extra);
    expect(actions).toEqual([]);
    expect(orderMachine.getPersistedSnapshot(next)).toEqual(orderMachine.getPersistedSnapshot(snapshot));
  });

  it.each<[string, OrderEvent[], boolean]>([
    ['reserving', [placed], true],
    ['charging', [placed, reserved], true],
    ['confirmed', [placed, reserved, succeeded, posted, committed], true],
    ['compensating.refunding', [placed, reserved, { type: 'payment.deadline' }], false],
    ['rejected', [placed, { type: 'inventory.rejected', reason: 'out_of_stock' }], false],
    ['cancelled', [placed, cancel, { type: 'inventory.released' }], false],
  ])('in %s, order.cancel is accepted: %s', (state, events, accepted) => {
    const { snapshot, name } = run(baseInput, events);
    expect(name).toBe(state);
    expect(snapshot.can(cancel)).toBe(accepted);
  });

  it('a persisted snapshot round-trips through JSON and steps on identically', () => {
    const { snapshot } = run(withCoupon, [placed, reserved, redeemed, { type: 'payment.deadline' }]);
    const json = JSON.parse(JSON.stringify(orderMachine.getPersistedSnapshot(snapshot)));
    const restored = orderMachine.resolveState(json);
    expect(restored.value).toEqual({ compensating: 'refunding' });
    expect(restored.context).toEqual(snapshot.context);
    const ack: OrderEvent = { type: 'payment.refunded', amount: '89.95' };
    const [fromOriginal, originalActions] = transition(orderMachine, snapshot, ack);
    const [fromRestored, restoredActions] = transition(orderMachine, restored, ack);
    expect(fromRestored.value).toEqual(fromOriginal.value);
    const intents = (actions: typeof originalActions) => actions.map((a) => ({ type: a.type, params: a.params }));
    expect(intents(restoredActions)).toEqual(intents(originalActions));
    expect(intents(originalActions).map((a) => a.type)).toEqual(['publish', 'command']);
    const done = run(baseInput, [placed, cancel, { type: 'inventory.released' }]).snapshot;
    expect(orderMachine.resolveState(JSON.parse(JSON.stringify(orderMachine.getPersistedSnapshot(done)))).status).toBe(
      'done',
    );
  });

  it.each<[string, Outcome | null, string, boolean]>([
    ['charging', null, 'pending', false],
    ['compensating.refunding', 'cancelled', 'cancelling', false],
    ['compensating.refunding', 'failed', 'pending', false],
    ['confirmed', null, 'confirmed', true],
    ['expired', 'expired', 'expired', true],
  ])('status of %s with outcome %s is %s', (state, outcome, status, final) => {
    expect(statusOf(state, { outcome })).toBe(status);
    expect(isFinalStatus(status)).toBe(final);
  });

  it('names nested states with dots', () => {
    expect(stateName('charging')).toBe('charging');
    expect(stateName({ compensating: 'releasingStock' })).toBe('compensating.releasingStock');
  });
});

// The order machine, proved by an exhaustive walk over a simulated world: every interleaving of
// answers, late answers, timers and cancels (the intent-by-intent cases are in
// order-machine.cases.test.ts).
import { describe, expect, it } from 'vitest';
import { type OrderEvent, type OrderInput } from '../../machines/order.machine.ts';
import { finalStatuses, stateName } from '../../machines/order.status.ts';
import { Decimal } from '../../src/domain/money.ts';
import { snapshotOf, walk, type World } from '../support/machine-walk.ts';
import { baseInput, withCoupon } from '../support/order-inputs.ts';

/** How the event that decided an order's fate must end it. */
function expectedEnding(event: OrderEvent): { state: string; reason: string } {
  switch (event.type) {
    case 'inventory.rejected':
    case 'coupon.rejected':
      return { state: 'rejected', reason: event.reason };
    case 'payment.failed':
      return { state: 'failed', reason: event.reason };
    case 'payment.deadline':
      return { state: 'failed', reason: 'payment_timeout' };
    case 'reservation.expired':
      return { state: 'expired', reason: 'reservation_expired' };
    case 'order.cancel':
      return { state: 'cancelled', reason: 'cancelled_by_customer' };
    default:
      return { state: `no ending for ${event.type}`, reason: '' };
  }
}

/** The invariants of a settled order: nothing held, nothing redeemed, no money moved, unless confirmed. */
function checkSettled(input: OrderInput, world: World, seen: Set<string>): string[] {
  const snapshot = snapshotOf(world);
  const name = stateName(snapshot.value);
  const confirmed = name === 'confirmed';
  // Halted for the operator, whose moves (retry, done by hand) the walk takes next.
  if (name === 'needsAttention') return [];
  if (!confirmed && snapshot.status !== 'done') {
    // A quiet world with no timer left can never move this order again.
    return world.timers.length === 0 ? [`stuck in ${name}`] : [];
  }
  const { effects: e, context } = { effects: world.effects, context: snapshot.context };
  const problems: string[] = [];
  const fail = (problem: string) => problems.push(`${name}: ${problem}`);
  if (e.stock === 'held') fail('reservation still held');
  if (confirmed !== (e.stock === 'committed')) fail(`reservation is ${e.stock}`);
  if (!confirmed && e.coupon === 'redeemed') fail('coupon stays redeemed');
  if (confirmed && input.couponCode !== null && e.coupon !== 'redeemed') fail(`coupon is ${e.coupon}`);
  const expected = confirmed ? new Decimal(input.subtotal).minus(e.discountGranted) : new Decimal(0);
  const net = new Decimal(e.charged).minus(e.refunded);
  if (!net.eq(expected)) fail(`charged - refunded = ${net.toFixed()}, expected ${expected.toFixed()}`);
  const booked = new Decimal(e.posted).minus(e.reversed);
  if (!booked.eq(expected)) fail(`posted - reversed = ${booked.toFixed()}, expected ${expected.toFixed()}`);
  const charge = world.sent.find((c) => c.type === 'payment.charge');
  const refund = world.sent.find((c) => c.type === 'payment.refund');
  if (charge && refund && charge.payload.amount !== refund.payload.amount)
    fail('refund asks another amount than the charge');
  if (world.published[0]?.type !== 'order.created') fail('order.created is not the first event');
  const ending = world.published.find((p) => p.type === `order.${name}`);
  if (ending === undefined) fail(`order.${name} not published`);
  if (confirmed) {
    if (world.cause !== null) fail(`confirmed although ${world.cause.event.type} decided a failure`);
    seen.add('confirmed');
    return problems;
  }
  const wanted = world.cause === null ? { state: 'no decisive event', reason: '' } : expectedEnding(world.cause.event);
  if (wanted.state !== name || wanted.reason !== context.failureReason || ending?.data.reason !== wanted.reason) {
    fail(`failure_reason ${context.failureReason}, expected ${wanted.state}/${wanted.reason}`);
  }
  seen.add(`${name}/${context.failureReason}${world.cause?.from === 'confirmed' ? ' after confirmation' : ''}`);
  return problems;
}

describe('order machine: every path through a simulated world', () => {
  it.each([
    ['without a coupon', baseInput],
    ['with a coupon', withCoupon],
  ])('%s, every settled order keeps the invariants and no order is stuck', (label, input) => {
    const seen = new Set<string>();
    const report = walk(input, { depthLimit: 40, check: (world) => checkSettled(input, world, seen) });
    console.log(
      `order machine walk ${label}: ${report.paths} paths, ${report.states} distinct states, ` +
        `depth ${report.depthMax}, settled ${JSON.stringify(report.settled)}`,
    );
    expect(report.violations.slice(0, 5)).toEqual([]);
    for (const state of [...finalStatuses, 'needsAttention'])
      expect(report.settled[state] ?? 0, state).toBeGreaterThan(0);
    const endings = [
      'confirmed',
      'rejected/out_of_stock',
      'failed/payment_declined',
      'failed/payment_timeout',
      'expired/reservation_expired',
      'cancelled/cancelled_by_customer',
      'cancelled/cancelled_by_customer after confirmation',
    ];
    if (input.couponCode !== null)
      endings.push('rejected/coupon_invalid', 'rejected/coupon_already_used', 'rejected/coupon_expired');
    expect([...seen].sort()).toEqual(endings.sort());
  });
});

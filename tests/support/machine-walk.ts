// A simulated world around the pure order machine, explored exhaustively. The four modules behave
// as the real ones must (tombstones included: an undo that arrives first makes the late action a
// no-op, answered the way the real module answers it), timers fire whenever scheduled, the
// customer may cancel at any time, and any answer may be delivered late. One undo per world may
// fail for good (compensation.failed): the order halts in needsAttention, and the operator then
// retries it or marks it done by hand (the world applies the undo's effect, as the money moved by
// hand would). Every interleaving is walked, deduplicated by the whole world's state.
import { initialTransition, transition } from 'xstate';
import { orderMachine, type OrderEvent, type OrderInput } from '../../machines/order.machine.ts';
import { outcomeStatuses, stateName, statusOf } from '../../machines/order.status.ts';
import { Decimal, parseMoney, toAmountString } from '../../src/domain/money.ts';
import { discountOf, type CouponTerms } from '../../src/domain/order-totals.ts';
import { isUndoCommand, parsePayload, queueNames, type QueueName } from '../../queues/queues.ts';

export interface Command {
  queue: QueueName;
  type: string;
  payload: Record<string, unknown>;
  /** An undo sent again by an operator's retry: 1, 2, ... (0 or absent the first time). */
  retry?: number;
}

export interface Published {
  type: string;
  data: Record<string, unknown>;
}

/** What the modules did, as their own tables would show it. */
export interface Effects {
  /** The reservation; `tombstone` is a release that came before any reserve. */
  stock: 'none' | 'held' | 'committed' | 'released' | 'tombstone';
  coupon: 'none' | 'redeemed' | 'rejected' | 'restored' | 'tombstone';
  /** The discount the coupon module granted, '0' until it grants one. */
  discountGranted: string;
  charged: string;
  refunded: string;
  refundSeen: boolean;
  posted: string;
  reversed: string;
  reverseSeen: boolean;
  /** An undo already failed for good in this world (one per world bounds the walk). */
  undoFailed: boolean;
}

/** The event that decided how the order ends, as the walk saw the machine act on it. */
export interface Cause {
  event: OrderEvent;
  from: string;
}

export interface World {
  /** The persisted snapshot as JSON, exactly what the runtime stores between two steps. */
  snapshot: string;
  pending: Command[];
  inFlight: OrderEvent[];
  timers: OrderEvent['type'][];
  cancelSent: boolean;
  effects: Effects;
  sent: Command[];
  published: Published[];
  cause: Cause | null;
}

export const walkCoupon: CouponTerms = { kind: 'percent', percentOff: '10' };
const expiresAt = '2030-01-01T00:00:00.000Z';

interface ModuleOutcome {
  effects: Effects;
  answer: OrderEvent | null;
  label: string;
}

const decimalSum = (a: string, b: Decimal.Value) => new Decimal(a).plus(b).toFixed();

function inventoryModule(command: Command, e: Effects): ModuleOutcome[] {
  if (command.type === 'inventory.reserve') {
    if (e.stock === 'tombstone') {
      const answer: OrderEvent = { type: 'inventory.rejected', reason: 'reservation_released' };
      return [{ effects: e, answer, label: 'reserve after its release: no-op' }];
    }
    if (e.stock !== 'none') throw new Error(`world: reserve while the reservation is ${e.stock}`);
    return [
      {
        effects: { ...e, stock: 'held' },
        answer: { type: 'inventory.reserved', expires_at: expiresAt },
        label: 'reserve: held',
      },
      { effects: e, answer: { type: 'inventory.rejected', reason: 'out_of_stock' }, label: 'reserve: out_of_stock' },
    ];
  }
  if (command.type === 'inventory.commit') {
    // The real module refuses this commit without an answer: the order is already compensating.
    if (e.stock === 'released' || e.stock === 'tombstone')
      return [{ effects: e, answer: null, label: 'commit after release: refused' }];
    if (e.stock !== 'held') throw new Error(`world: commit of a reservation that is ${e.stock}`);
    return [{ effects: { ...e, stock: 'committed' }, answer: { type: 'inventory.committed' }, label: 'commit' }];
  }
  // A release restocks whatever is held or committed; a release of nothing leaves a tombstone.
  const stock = e.stock === 'none' ? 'tombstone' : e.stock === 'held' || e.stock === 'committed' ? 'released' : e.stock;
  return [{ effects: { ...e, stock }, answer: { type: 'inventory.released' }, label: `release (${e.stock})` }];
}

function couponModule(command: Command, e: Effects, input: OrderInput): ModuleOutcome[] {
  if (command.type === 'coupon.redeem') {
    if (e.coupon === 'tombstone') {
      return [
        {
          effects: e,
          answer: { type: 'coupon.rejected', reason: 'coupon_restored' },
          label: 'redeem after its restore: no-op',
        },
      ];
    }
    if (e.coupon !== 'none') throw new Error(`world: redeem while the coupon is ${e.coupon}`);
    const subtotal = parseMoney(String(command.payload.subtotal), String(command.payload.currency));
    const discount = toAmountString(discountOf(subtotal, walkCoupon));
    const rejected = (reason: string): ModuleOutcome => ({
      effects: { ...e, coupon: 'rejected' },
      answer: { type: 'coupon.rejected', reason },
      label: `redeem: ${reason}`,
    });
    if (command.payload.code !== input.couponCode)
      throw new Error('world: redeem of another code than the order carries');
    return [
      {
        effects: { ...e, coupon: 'redeemed', discountGranted: discount },
        answer: { type: 'coupon.redeemed', discount },
        label: 'redeem',
      },
      rejected('coupon_invalid'),
      rejected('coupon_already_used'),
      rejected('coupon_expired'),
    ];
  }
  const coupon = e.coupon === 'none' ? 'tombstone' : e.coupon === 'redeemed' ? 'restored' : e.coupon;
  return [{ effects: { ...e, coupon }, answer: { type: 'coupon.restored' }, label: `restore (${e.coupon})` }];
}

function paymentModule(command: Command, e: Effects): ModuleOutcome[] {
  const amount = String(command.payload.amount);
  if (command.type === 'payment.charge') {
    if (e.refundSeen) {
      return [
        {
          effects: e,
          answer: { type: 'payment.failed', reason: 'payment_cancelled' },
          label: 'charge after its refund: voided',
        },
      ];
    }
    const charged = { ...e, charged: decimalSum(e.charged, amount) };
    return [
      { effects: charged, answer: { type: 'payment.succeeded', provider_ref: 'ref-1' }, label: 'charge: succeeded' },
      { effects: e, answer: { type: 'payment.failed', reason: 'payment_declined' }, label: 'charge: declined' },
      { effects: e, answer: { type: 'payment.failed', reason: 'payment_timeout' }, label: 'charge: timeout' },
      // The provider took the money but its answer was lost: only the refund gives it back.
      {
        effects: charged,
        answer: { type: 'payment.failed', reason: 'payment_timeout' },
        label: 'charge: timeout, money taken',
      },
    ];
  }
  const open = new Decimal(e.charged).minus(e.refunded);
  const effects = { ...e, refunded: decimalSum(e.refunded, open), refundSeen: true };
  return [
    { effects, answer: { type: 'payment.refunded', amount: open.toFixed() }, label: `refund (${open.toFixed()})` },
  ];
}

function ledgerModule(command: Command, e: Effects): ModuleOutcome[] {
  if (command.type === 'ledger.post') {
    if (e.reverseSeen) return [{ effects: e, answer: null, label: 'post after its reversal: no-op' }];
    const effects = { ...e, posted: decimalSum(e.posted, String(command.payload.total)) };
    return [{ effects, answer: { type: 'ledger.posted', transaction_id: 'tx-1' }, label: 'post' }];
  }
  const effects = { ...e, reversed: e.posted, reverseSeen: true };
  return [{ effects, answer: { type: 'ledger.reversed' }, label: `reverse (${e.posted})` }];
}

function moduleOutcomes(command: Command, e: Effects, input: OrderInput): ModuleOutcome[] {
  const done = moduleDone(command, e, input);
  if (!isUndoCommand(command.type) || e.undoFailed) return done;
  const refused: OrderEvent = { type: 'compensation.failed', command: command.type, reason: 'refused' };
  return [
    ...done,
    { effects: { ...e, undoFailed: true }, answer: refused, label: `${command.type}: refused for good` },
  ];
}

function moduleDone(command: Command, e: Effects, input: OrderInput): ModuleOutcome[] {
  switch (command.queue) {
    case 'inventory':
      return inventoryModule(command, e);
    case 'coupons':
      return couponModule(command, e, input);
    case 'payments':
      return paymentModule(command, e);
    case 'ledger':
      return ledgerModule(command, e);
    default:
      throw new Error(`world: no module answers queue ${command.queue}`);
  }
}

function resolve(json: string) {
  return orderMachine.resolveState(JSON.parse(json) as Parameters<typeof orderMachine.resolveState>[0]);
}

export function snapshotOf(world: World) {
  return resolve(world.snapshot);
}

/** Applies the intents of one step to the world, checking each the way the runtime relies on. */
function applyIntents(world: World, actions: ReadonlyArray<{ type: string; params?: unknown }>): World {
  const next = {
    ...world,
    pending: [...world.pending],
    sent: [...world.sent],
    published: [...world.published],
    timers: [...world.timers],
  };
  for (const action of actions) {
    const params = action.params as Record<string, unknown>;
    if (action.type === 'command') {
      const command = params as unknown as Command;
      if (!(queueNames as readonly string[]).includes(command.queue))
        throw new Error(`command to unknown queue ${command.queue}`);
      // Message ids are `${orderId}.${type}` (an undo's retry adds `.retry<n>`): a second command
      // with the same id would be dropped as a duplicate.
      const idOf = (c: Command) => `${c.type}.${c.retry ?? 0}`;
      if (next.sent.some((c) => idOf(c) === idOf(command))) throw new Error(`command ${idOf(command)} sent twice`);
      parsePayload(command.queue, command.type, command.payload);
      next.pending.push(command);
      next.sent.push(command);
    } else if (action.type === 'publish') {
      const event = params as unknown as Published & { key?: string };
      const keyOf = (p: Published & { key?: string }) => p.key ?? p.type;
      if (next.published.some((p) => keyOf(p) === keyOf(event)))
        throw new Error(`event ${keyOf(event)} published twice`);
      next.published.push(event);
    } else if (action.type === 'schedule') {
      const type = params.type as OrderEvent['type'];
      if (next.timers.includes(type) || !['reservation.expired', 'payment.deadline'].includes(type)) {
        throw new Error(`timer ${type} scheduled twice or unknown`);
      }
      if (typeof params.delayMs !== 'number' || params.delayMs <= 0) throw new Error(`timer ${type} without a delay`);
      next.timers.push(type);
    } else if (action.type === 'withdraw') {
      // The runtime withdraws a timer that is not yet handed over; one already handed over still
      // arrives. The world keeps it, so the walk keeps proving that a late timer changes nothing.
      if (!['reservation.expired', 'payment.deadline'].includes(String(params.type))) {
        throw new Error(`withdraw of unknown timer ${String(params.type)}`);
      }
    } else {
      throw new Error(`unexpected action ${action.type}: the runtime only knows command, publish, schedule, withdraw`);
    }
  }
  return next;
}

const failedStates = new Set<string>(outcomeStatuses);
const isCompensatingOrFinal = (name: string) => name.startsWith('compensating') || failedStates.has(name);

/** Delivers one event to the order actor: resolve, step, persist, as the runtime does. */
export function deliver(world: World, event: OrderEvent): World {
  const before = resolve(world.snapshot);
  const [after, actions] = transition(orderMachine, before, event);
  const snapshot = JSON.stringify(orderMachine.getPersistedSnapshot(after));
  if (!before.can(event) && (snapshot !== world.snapshot || actions.length > 0)) {
    throw new Error(`unhandled ${event.type} changed the snapshot or emitted intents`);
  }
  const from = stateName(before.value);
  const to = stateName(after.value);
  const status = statusOf(to, after.context);
  if (status === 'cancelling' && after.context.outcome !== 'cancelled') throw new Error(`status ${status} in ${to}`);
  const decides = world.cause === null && !isCompensatingOrFinal(from) && isCompensatingOrFinal(to);
  const next = applyIntents({ ...world, snapshot }, actions);
  return decides ? { ...next, cause: { event, from } } : next;
}

export function startWorld(input: OrderInput): World {
  const [initial, initialActions] = initialTransition(orderMachine, input);
  if (initialActions.length > 0) throw new Error('the initial state must emit no intents');
  const effects: Effects = {
    stock: 'none',
    coupon: 'none',
    discountGranted: '0',
    charged: '0',
    refunded: '0',
    refundSeen: false,
    posted: '0',
    reversed: '0',
    reverseSeen: false,
    undoFailed: false,
  };
  const empty: World = {
    snapshot: JSON.stringify(orderMachine.getPersistedSnapshot(initial)),
    pending: [],
    inFlight: [],
    timers: [],
    cancelSent: false,
    effects,
    sent: [],
    published: [],
    cause: null,
  };
  // The API applies order.placed in the transaction that creates the order.
  return deliver(empty, { type: 'order.placed' });
}

interface Move {
  label: string;
  world: World;
}

const without = <T>(list: T[], index: number) => list.filter((_, i) => i !== index);

/** Every next step the world can take: a module processes a command, an event arrives, a timer fires, the customer cancels. */
export function movesOf(world: World, input: OrderInput): Move[] {
  const moves: Move[] = [];
  world.pending.forEach((command, index) => {
    for (const outcome of moduleOutcomes(command, world.effects, input)) {
      const inFlight = outcome.answer === null ? world.inFlight : [...world.inFlight, outcome.answer];
      moves.push({
        label: outcome.label,
        world: { ...world, pending: without(world.pending, index), effects: outcome.effects, inFlight },
      });
    }
  });
  world.inFlight.forEach((event, index) => {
    const label = `deliver ${event.type}${'reason' in event ? `(${event.reason})` : ''}`;
    moves.push({ label, world: deliver({ ...world, inFlight: without(world.inFlight, index) }, event) });
  });
  world.timers.forEach((type, index) => {
    const event = { type } as OrderEvent;
    moves.push({ label: `timer ${type}`, world: deliver({ ...world, timers: without(world.timers, index) }, event) });
  });
  moves.push(...operatorMoves(world, input));
  if (!world.cancelSent && resolve(world.snapshot).status === 'active') {
    moves.push({ label: 'customer cancels', world: deliver({ ...world, cancelSent: true }, { type: 'order.cancel' }) });
  }
  return moves;
}

/**
 * An order in needsAttention: the operator retries the failed undo, or marks it done by hand, which
 * the world models by applying the undo's effect (the money or stock moved outside the engine).
 */
function operatorMoves(world: World, input: OrderInput): Move[] {
  const { context, value } = resolve(world.snapshot);
  if (stateName(value) !== 'needsAttention') return [];
  const failed = [...world.sent].reverse().find((c) => c.type === context.attention?.command);
  if (failed === undefined) throw new Error('world: needsAttention names no command that was sent');
  const resolveWith = (action: 'retry' | 'mark_compensated'): OrderEvent => ({
    type: 'order.resolve',
    action,
    note: 'walk',
    operator: 'walk',
  });
  const byHand = moduleDone(failed, world.effects, input)[0];
  if (byHand === undefined) throw new Error(`world: ${failed.type} has no outcome`);
  return [
    { label: `operator retries ${failed.type}`, world: deliver(world, resolveWith('retry')) },
    {
      label: `operator marks ${failed.type} done by hand`,
      world: deliver({ ...world, effects: byHand.effects }, resolveWith('mark_compensated')),
    },
  ];
}

/** Sorted so that the same world reached in another order is recognised as the same. */
function keyOf(world: World): string {
  const byType = <T extends { type: string }>(list: T[]) => [...list].sort((a, b) => a.type.localeCompare(b.type));
  return JSON.stringify({
    ...world,
    pending: byType(world.pending),
    inFlight: byType(world.inFlight),
    timers: [...world.timers].sort(),
    sent: byType(world.sent),
    published: byType(world.published),
  });
}

/** A world where the modules have nothing left to do and nothing is on its way to the order. */
export function isQuiet(world: World): boolean {
  return world.pending.length === 0 && world.inFlight.length === 0;
}

export interface WalkReport {
  states: number;
  paths: number;
  depthMax: number;
  /** Quiet worlds per machine state, where the invariants were checked. */
  settled: Record<string, number>;
  violations: string[];
}

export interface WalkOptions {
  /** Checks a quiet world; returns what is wrong, or nothing. */
  check: (world: World) => string[];
  depthLimit: number;
}

/** Depth-first over every interleaving, memoised by world; counts the distinct paths to a world with no move left. */
export function walk(input: OrderInput, options: WalkOptions): WalkReport {
  const memo = new Map<string, number>();
  const report: WalkReport = { states: 0, paths: 0, depthMax: 0, settled: {}, violations: [] };
  const explore = (world: World, trace: string[]): number => {
    const key = keyOf(world);
    const known = memo.get(key);
    if (known !== undefined) return known;
    if (trace.length > options.depthLimit)
      throw new Error(`walk deeper than ${options.depthLimit}: ${trace.join(' > ')}`);
    report.depthMax = Math.max(report.depthMax, trace.length);
    if (isQuiet(world)) {
      const name = stateName(resolve(world.snapshot).value);
      report.settled[name] = (report.settled[name] ?? 0) + 1;
      for (const problem of options.check(world)) report.violations.push(`${problem} after: ${trace.join(' > ')}`);
    }
    const moves = movesOf(world, input);
    let paths = moves.length === 0 ? 1 : 0;
    for (const move of moves) paths += explore(move.world, [...trace, move.label]);
    memo.set(key, paths);
    return paths;
  };
  report.paths = explore(startWorld(input), ['order.placed']);
  report.states = memo.size;
  return report;
}

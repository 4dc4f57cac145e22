// The order machine: pure. It never does I/O, reads the clock or makes ids. Its actions are
// intents (command, publish, schedule) that the runtime turns into outbox rows in the same
// transaction as the new snapshot. Compensation is part of the machine: every step that changes
// another module is undone in reverse order, and an undo is sent for every step that was
// *requested*, since a request still in flight must meet its undo's tombstone.
import { assign, setup } from 'xstate';
import { money, subtract, toAmountString, type Currency } from '../src/domain/money.ts';
import type { OrderContext, OrderEvent, OrderInput, Outcome, ResolveAction, UndoStep } from './order.types.ts';

export type { OrderContext, OrderEvent, OrderInput };

type Intent =
  | { type: 'command'; params: { queue: string; type: string; payload: Record<string, unknown>; retry?: number } }
  | { type: 'publish'; params: { type: string; data: Record<string, unknown>; key?: string } }
  | { type: 'schedule'; params: { type: string; delayMs: number } }
  | { type: 'withdraw'; params: { type: string } };

const command = (queue: string, type: string, payload: (c: OrderContext) => Record<string, unknown> = () => ({})) =>
  ({
    type: 'command',
    params: ({ context }: { context: OrderContext }) => ({ queue, type, payload: payload(context) }),
  }) as const;
const publish = (type: string, data: (c: OrderContext) => Record<string, unknown> = () => ({})) =>
  ({ type: 'publish', params: ({ context }: { context: OrderContext }) => ({ type, data: data(context) }) }) as const;

const amountOf = (c: OrderContext, value: string) => money(value, c.currency as Currency);
const amount = toAmountString;
const chargePayload = (c: OrderContext) => ({ amount: c.total, currency: c.currency, customer_id: c.userId });
const amounts = (c: OrderContext) => ({
  subtotal: c.subtotal,
  discount: c.discount,
  total: c.total,
  currency: c.currency,
});

/**
 * Enters compensation with an outcome and a reason: a fixed reason, else the event's, else the
 * fallback (else the outcome's name).
 */
const fail = (outcome: Outcome, reason?: string, fallbackReason?: string) =>
  ({
    target: '#order.compensating',
    actions: { type: 'markFailure', params: { outcome, reason, fallbackReason } },
  }) as const;
const markRequested = (step: keyof OrderContext['requested']) => ({ type: 'markRequested', params: { step } }) as const;

// A cancel names its reason (cancelled_by_customer, cancelled_by_operator); a bare one is the customer's.
const cancel = fail('cancelled', undefined, 'cancelled_by_customer');
const reserved = [
  {
    type: 'schedule',
    params: ({ context }: { context: OrderContext }) => ({
      type: 'reservation.expired',
      delayMs: context.reservationTtlMs,
    }),
  },
  publish('inventory.reserved', (c) => ({ items: c.items })),
] as const;
const expire = fail('expired', 'reservation_expired');
/** A timer the order no longer waits for: the runtime withdraws it, and ignores it should it still arrive. */
const withdraw = (type: 'reservation.expired' | 'payment.deadline') =>
  ({ type: 'withdraw', params: { type } }) as const;
const withdrawTimers = [withdraw('payment.deadline'), withdraw('reservation.expired')];
const markSettled = (step: keyof OrderContext['settled']) => ({ type: 'markSettled', params: { step } }) as const;

/**
 * An undo's command. Sent again when an operator retries it, under a message id of its own
 * (`retry` counts the retries), since the first one's id is spent.
 */
const undo = (step: UndoStep, queue: string, type: string, payload: (c: OrderContext) => Record<string, unknown>) =>
  ({
    type: 'command',
    params: ({ context }: { context: OrderContext }) => ({
      queue,
      type,
      payload: payload(context),
      retry: context.undoRetries?.[step] ?? 0,
    }),
  }) as const;
/** A module could not do this step's undo: the order halts until an operator resolves it. */
const escalate = (step: UndoStep) =>
  ({
    'compensation.failed': { target: '#order.needsAttention', actions: { type: 'markAttention', params: { step } } },
  }) as const;
/** Each undo step, and where compensation goes on once it is done (or compensated by hand). */
/** How often an operator resolved this order's escalations so far. */
const resolutionsOf = (c: OrderContext) =>
  Object.values(c.undoRetries ?? {}).reduce((sum, n) => sum + n, 0) + (c.compensatedByHand?.length ?? 0);
const undoSteps = [
  ['reversingLedger', 'payment'],
  ['refunding', 'coupon'],
  ['restoringCoupon', 'stock'],
  ['releasingStock', 'done'],
] as const;

export const orderMachine = setup({
  types: {
    context: {} as OrderContext,
    events: {} as OrderEvent,
    input: {} as OrderInput,
  },
  actions: {
    // Intents only. The runtime reads them from transition()'s result; nothing runs here.
    command: (_, _params: Extract<Intent, { type: 'command' }>['params']) => undefined,
    publish: (_, _params: Extract<Intent, { type: 'publish' }>['params']) => undefined,
    schedule: (_, _params: Extract<Intent, { type: 'schedule' }>['params']) => undefined,
    withdraw: (_, _params: Extract<Intent, { type: 'withdraw' }>['params']) => undefined,
    markFailure: assign(
      ({ event }, params: { outcome: Outcome; reason: string | undefined; fallbackReason?: string | undefined }) => ({
        outcome: params.outcome,
        failureReason:
          params.reason ??
          ('reason' in event && typeof event.reason === 'string' ? event.reason : undefined) ??
          params.fallbackReason ??
          params.outcome,
      }),
    ),
    markRequested: assign(({ context }, params: { step: keyof OrderContext['requested'] }) => ({
      requested: { ...context.requested, [params.step]: true },
    })),
    markSettled: assign(({ context }, params: { step: keyof OrderContext['settled'] }) => ({
      settled: { ...context.settled, [params.step]: true },
    })),
    markAttention: assign(({ event }, params: { step: UndoStep }) =>
      event.type === 'compensation.failed'
        ? { attention: { step: params.step, command: event.command, reason: event.reason } }
        : {},
    ),
    markRetry: assign(({ context }, params: { step: UndoStep }) => ({
      attention: null,
      undoRetries: { ...context.undoRetries, [params.step]: (context.undoRetries?.[params.step] ?? 0) + 1 },
    })),
    markCompensatedByHand: assign(({ context }, params: { step: UndoStep }) => ({
      attention: null,
      compensatedByHand: [...(context.compensatedByHand ?? []), params.step],
    })),
  },
  guards: {
    hasCoupon: ({ context }) => context.couponCode !== null,
    ledgerRequested: ({ context }) => context.requested.ledger,
    paymentRequested: ({ context }) => context.requested.payment,
    couponRequested: ({ context }) => context.requested.coupon,
    stockRequested: ({ context }) => context.requested.stock,
    ledgerPosted: ({ context }) => context.settled.ledger,
    stockCommitted: ({ context }) => context.settled.stock,
    outcomeIs: ({ context }, params: { outcome: Outcome }) => context.outcome === params.outcome,
    /** An operator's resolve with this action, for an order halted at this step. */
    resolvedAs: ({ context, event }, params: { action: ResolveAction; step: UndoStep }) =>
      event.type === 'order.resolve' && event.action === params.action && context.attention?.step === params.step,
  },
}).createMachine({
  id: 'order',
  initial: 'pending',
  context: ({ input }) => ({
    ...input,
    discount: amount(money(0, input.currency as Currency)),
    total: input.subtotal,
    requested: { stock: false, coupon: false, payment: false, ledger: false },
    settled: { ledger: false, stock: false },
    outcome: null,
    failureReason: null,
  }),
  states: {
    pending: {
      on: {
        'order.placed': {
          target: 'reserving',
          actions: [
            markRequested('stock'),
            command('inventory', 'inventory.reserve', (c) => ({ items: c.items, ttl_ms: c.reservationTtlMs })),
            publish('order.created', (c) => ({
              user_id: c.userId,
              items: c.items,
              coupon_code: c.couponCode,
              ...amounts(c),
            })),
          ],
        },
      },
    },
    reserving: {
      on: {
        'inventory.reserved': [
          { guard: 'hasCoupon', target: 'redeemingCoupon', actions: reserved },
          { target: 'charging', actions: reserved },
        ],
        'inventory.rejected': {
          target: 'rejected',
          actions: { type: 'markFailure', params: { outcome: 'rejected', reason: undefined } },
        },
        'order.cancel': cancel,
      },
    },
    redeemingCoupon: {
      entry: [
        markRequested('coupon'),
        command('coupons', 'coupon.redeem', (c) => ({
          code: c.couponCode,
          subtotal: c.subtotal,
          currency: c.currency,
        })),
      ],
      on: {
        'coupon.redeemed': {
          target: 'charging',
          actions: assign({
            discount: ({ event }) => event.discount,
            total: ({ context, event }) =>
              amount(subtract(amountOf(context, context.subtotal), amountOf(context, event.discount))),
          }),
        },
        'coupon.rejected': fail('rejected'),
        'order.cancel': cancel,
        'reservation.expired': expire,
      },
    },
    charging: {
      entry: [
        markRequested('payment'),
        command('payments', 'payment.charge', chargePayload),
        {
          type: 'schedule',
          params: ({ context }) => ({ type: 'payment.deadline', delayMs: context.paymentDeadlineMs }),
        },
      ],
      exit: withdrawTimers,
      on: {
        'payment.succeeded': {
          target: 'settling',
          actions: publish('payment.captured', (c) => ({ amount: c.total, currency: c.currency })),
        },
        'payment.failed': fail('failed'),
        'payment.deadline': fail('failed', 'payment_timeout'),
        'order.cancel': cancel,
        'reservation.expired': expire,
      },
    },
    // Paid: the ledger posting and the stock commit are independent, so both are asked at once and
    // the order is confirmed when the second answers. A cancel here undoes both (release also
    // restocks committed units), whichever answered.
    settling: {
      entry: [
        markRequested('ledger'),
        command('ledger', 'ledger.post', (c) => ({ user_id: c.userId, ...amounts(c) })),
        command('inventory', 'inventory.commit'),
      ],
      on: {
        'ledger.posted': [
          {
            guard: 'stockCommitted',
            target: 'confirmed',
            actions: [markSettled('ledger'), publish('ledger.posted', amounts)],
          },
          { actions: [markSettled('ledger'), publish('ledger.posted', amounts)] },
        ],
        'inventory.committed': [
          { guard: 'ledgerPosted', target: 'confirmed', actions: markSettled('stock') },
          { actions: markSettled('stock') },
        ],
        'order.cancel': cancel,
      },
    },
    confirmed: {
      entry: publish('order.confirmed', amounts),
      on: { 'order.cancel': cancel },
    },
    compensating: {
      // Drawn apart by the visualizer (src/admin/): every undo lives inside this state.
      tags: ['compensation'],
      entry: withdrawTimers,
      initial: 'ledger',
      states: {
        ledger: { always: [{ guard: 'ledgerRequested', target: 'reversingLedger' }, { target: 'payment' }] },
        reversingLedger: {
          entry: undo('reversingLedger', 'ledger', 'ledger.reverse', () => ({})),
          on: {
            'ledger.reversed': { target: 'payment', actions: publish('ledger.reversed', amounts) },
            ...escalate('reversingLedger'),
          },
        },
        payment: { always: [{ guard: 'paymentRequested', target: 'refunding' }, { target: 'coupon' }] },
        refunding: {
          entry: undo('refunding', 'payments', 'payment.refund', chargePayload),
          on: {
            'payment.refunded': {
              target: 'coupon',
              actions: publish('payment.refunded', ({ currency }) => ({ currency })),
            },
            ...escalate('refunding'),
          },
        },
        coupon: { always: [{ guard: 'couponRequested', target: 'restoringCoupon' }, { target: 'stock' }] },
        restoringCoupon: {
          entry: undo('restoringCoupon', 'coupons', 'coupon.restore', () => ({})),
          on: { 'coupon.restored': 'stock', ...escalate('restoringCoupon') },
        },
        stock: { always: [{ guard: 'stockRequested', target: 'releasingStock' }, { target: 'done' }] },
        releasingStock: {
          entry: undo('releasingStock', 'inventory', 'inventory.release', () => ({})),
          on: {
            'inventory.released': { target: 'done', actions: publish('inventory.released') },
            ...escalate('releasingStock'),
          },
        },
        done: { type: 'final' },
      },
      onDone: [
        { guard: { type: 'outcomeIs', params: { outcome: 'rejected' } }, target: 'rejected' },
        { guard: { type: 'outcomeIs', params: { outcome: 'failed' } }, target: 'failed' },
        { guard: { type: 'outcomeIs', params: { outcome: 'expired' } }, target: 'expired' },
        { target: 'cancelled' },
      ],
    },
    // An undo could not be done: halted until an operator retries it, or says it was done by hand
    // outside the engine (money moved, a posting made); compensation then goes on with the next
    // undo and ends with the outcome it was heading to (failed, cancelled, ...).
    needsAttention: {
      // One event per escalation: an order can halt again after a retry or at a later undo.
      entry: {
        type: 'publish',
        params: ({ context: c }) => ({
          type: 'order.needs_attention',
          data: { ...c.attention, outcome: c.outcome },
          key: `order.needs_attention.${resolutionsOf(c)}`,
        }),
      },
      on: {
        'order.resolve': [
          ...undoSteps.map(
            ([step]) =>
              ({
                guard: { type: 'resolvedAs', params: { action: 'retry', step } },
                target: `#order.compensating.${step}`,
                actions: { type: 'markRetry', params: { step } },
              }) as const,
          ),
          ...undoSteps.map(
            ([step, next]) =>
              ({
                guard: { type: 'resolvedAs', params: { action: 'mark_compensated', step } },
                target: `#order.compensating.${next}`,
                actions: { type: 'markCompensatedByHand', params: { step } },
              }) as const,
          ),
        ],
      },
    },
    rejected: { type: 'final', entry: publish('order.rejected', (c) => ({ reason: c.failureReason })) },
    failed: { type: 'final', entry: publish('order.failed', (c) => ({ reason: c.failureReason })) },
    expired: { type: 'final', entry: publish('order.expired', (c) => ({ reason: c.failureReason })) },
    cancelled: { type: 'final', entry: publish('order.cancelled', (c) => ({ reason: c.failureReason })) },
  },
});

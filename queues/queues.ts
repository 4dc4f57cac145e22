// The queues of the engine and, per queue, the message types it carries with their payloads.
// A payload that does not parse is a bug in the sender: the job fails without retry.
import { z } from 'zod';
import { currencyCode, moneyString } from './message.ts';

const empty = z.object({}).strict();
const reason = z.string().min(1).max(100);

/** Commands to the inventory module. */
export const inventoryMessages = {
  'inventory.reserve': z.object({
    items: z.array(z.object({ product_id: z.string().min(1), quantity: z.number().int().positive() })).min(1),
    ttl_ms: z.number().int().positive(),
  }),
  'inventory.commit': empty,
  'inventory.release': empty,
} as const;

/** Commands to the coupons module. */
export const couponMessages = {
  'coupon.redeem': z.object({ code: z.string().min(1), subtotal: moneyString, currency: currencyCode }),
  'coupon.restore': empty,
} as const;

/** Commands to the payments module. */
export const paymentMessages = {
  'payment.charge': z.object({ amount: moneyString, currency: currencyCode, customer_id: z.string().min(1) }),
  'payment.refund': z.object({ amount: moneyString, currency: currencyCode, customer_id: z.string().min(1) }),
} as const;

/** Commands to the ledger module. */
export const ledgerMessages = {
  'ledger.post': z.object({
    user_id: z.string().min(1),
    subtotal: moneyString,
    discount: moneyString,
    total: moneyString,
    currency: currencyCode,
  }),
  'ledger.reverse': empty,
} as const;

/** Events to the order actor: answers from the modules, timers and the customer's cancel. */
export const orderMessages = {
  'inventory.reserved': z.object({ expires_at: z.string() }),
  'inventory.rejected': z.object({ reason, product_id: z.string().optional() }),
  'inventory.committed': empty,
  'inventory.released': empty,
  'coupon.redeemed': z.object({ discount: moneyString }),
  'coupon.rejected': z.object({ reason }),
  'coupon.restored': empty,
  'payment.succeeded': z.object({ provider_ref: z.string() }),
  'payment.failed': z.object({ reason }),
  'payment.refunded': z.object({ amount: moneyString }),
  'ledger.posted': z.object({ transaction_id: z.string() }),
  'ledger.reversed': empty,
  'reservation.expired': empty,
  'payment.deadline': empty,
  'order.cancel': z.object({ reason: reason.optional() }),
  'compensation.failed': z.object({ command: z.string().min(1).max(100), reason }),
  'order.resolve': z.object({
    action: z.enum(['retry', 'mark_compensated']),
    note: z.string().min(1).max(1000),
    operator: z.string().min(1).max(200),
  }),
} as const;

/**
 * The undo commands: the ones compensation sends. A module that cannot carry one out (its attempts
 * exhausted, or refused for good) answers the order with compensation.failed instead of leaving it
 * waiting (src/messaging/escalation.ts).
 */
export const undoCommands = ['ledger.reverse', 'payment.refund', 'coupon.restore', 'inventory.release'] as const;

export function isUndoCommand(type: string): boolean {
  return (undoCommands as readonly string[]).includes(type);
}

export const queueNames = ['orders', 'inventory', 'coupons', 'payments', 'ledger'] as const;
export type QueueName = (typeof queueNames)[number];

export const messagesByQueue: Record<QueueName, Record<string, z.ZodType>> = {
  orders: orderMessages,
  inventory: inventoryMessages,
  coupons: couponMessages,
  payments: paymentMessages,
  ledger: ledgerMessages,
};

export function parsePayload(queue: QueueName, type: string, payload: unknown): Record<string, unknown> {
  const schema = messagesByQueue[queue][type];
  if (schema === undefined) throw new Error(`queue ${queue} carries no message type ${type}`);
  return schema.parse(payload) as Record<string, unknown>;
}

// The coupons module's handler for queue "coupons": redeem, and its undo, restore. Each runs once
// (inbox) and is idempotent per order; a restore that arrives before its redeem leaves a
// tombstone, so the late redeem takes nothing (no hanging redemption).
import { handleBatch, type HandleOnceDeps, type ModuleRuntime } from '../messaging/handle-once.ts';
import { PermanentError, handlerOf, type MessageHandler } from '../messaging/module-worker.ts';
import type { Client } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import { answer, type Message, type OutgoingMessage } from '../../queues/message.ts';
import { parseMoney, toAmountString, type Money } from '../domain/money.ts';
import { discountOf, type CouponTerms } from '../domain/order-totals.ts';
import {
  findCoupon,
  findRedemption,
  giveRedemptionBack,
  insertRedemption,
  insertRestoreTombstone,
  lockOrderCoupon,
  markRestored,
  takeRedemption,
  type CouponRow,
} from './coupons.sql.ts';

export interface CouponsDeps extends HandleOnceDeps {
  logger: Logger;
}

/** Why a redeem answers coupon.rejected: expected outcomes, not errors. */
export type CouponRejection = 'coupon_invalid' | 'coupon_expired' | 'coupon_already_used' | 'coupon_restored';

const consumer = 'coupons';

export function createCouponsRuntime(deps: CouponsDeps): ModuleRuntime {
  const logger = deps.logger.child({ module: 'coupons' });
  return {
    consumer,
    async prepare(message) {
      switch (message.type) {
        case 'coupon.redeem': {
          const subtotal = subtotalOf(message);
          return { message, effect: (client) => redeem(client, message, subtotal, logger) };
        }
        case 'coupon.restore':
          return { message, effect: (client) => restore(client, message) };
        default:
          throw new PermanentError(`coupons cannot handle ${message.type}`);
      }
    },
    commit: async (works) => void (await handleBatch(deps, consumer, works)),
  };
}

export function createCouponsHandler(deps: CouponsDeps): MessageHandler {
  return handlerOf(createCouponsRuntime(deps));
}

/** An amount or currency the engine cannot read is a bug in the sender: no retry fixes it. */
function subtotalOf(message: Message): Money {
  const { subtotal, currency } = message.payload as { subtotal: string; currency: string };
  try {
    return parseMoney(subtotal, currency);
  } catch (error) {
    throw new PermanentError(`coupon.redeem refused: ${(error as Error).message}`);
  }
}

async function redeem(client: Client, message: Message, subtotal: Money, logger: Logger): Promise<OutgoingMessage[]> {
  const { code } = message.payload as { code: string };
  await lockOrderCoupon(client, message.orderId);
  const existing = await findRedemption(client, message.orderId);
  if (existing !== null) {
    if (existing.status === 'restored') return [rejected(message, 'coupon_restored')];
    // Redeemed before (a re-sent command): the same discount again, and no second redemption.
    return [redeemed(message, parseMoney(existing.discount ?? '', existing.currency ?? ''))];
  }
  const outcome = await claimDiscount(client, await findCoupon(client, code), subtotal);
  if (typeof outcome === 'string') {
    logger.info({ orderId: message.orderId, code, reason: outcome }, 'coupon redeem rejected');
    return [rejected(message, outcome)];
  }
  await insertRedemption(client, {
    orderId: message.orderId,
    code,
    discount: toAmountString(outcome),
    currency: outcome.currency,
  });
  return [redeemed(message, outcome)];
}

/**
 * Checks the coupon, then takes one of its redemptions and prices the discount. The count is
 * checked only by the conditional increment, which holds under any concurrency.
 */
async function claimDiscount(
  client: Client,
  coupon: CouponRow | null,
  subtotal: Money,
): Promise<Money | CouponRejection> {
  if (coupon === null) return 'coupon_invalid';
  if (coupon.kind === 'fixed' && coupon.currency !== subtotal.currency) return 'coupon_invalid';
  if (coupon.expired) return 'coupon_expired';
  if (!(await takeRedemption(client, coupon.code))) return 'coupon_already_used';
  return discountOf(subtotal, termsOf(coupon));
}

function termsOf(coupon: CouponRow): CouponTerms {
  if (coupon.kind === 'percent' && coupon.percent_off !== null)
    return { kind: 'percent', percentOff: coupon.percent_off };
  if (coupon.kind === 'fixed' && coupon.amount_off !== null && coupon.currency !== null) {
    return { kind: 'fixed', amountOff: parseMoney(coupon.amount_off, coupon.currency) };
  }
  // The coupon_kind_fields CHECK makes this unreachable.
  throw new PermanentError(`coupon ${coupon.code} has no terms for kind ${coupon.kind}`);
}

async function restore(client: Client, message: Message): Promise<OutgoingMessage[]> {
  await lockOrderCoupon(client, message.orderId);
  const existing = await findRedemption(client, message.orderId);
  if (existing === null) {
    await insertRestoreTombstone(client, message.orderId);
  } else if (existing.status === 'redeemed' && (await markRestored(client, message.orderId))) {
    if (existing.coupon_code === null || !(await giveRedemptionBack(client, existing.coupon_code))) {
      throw new PermanentError(`redemption of order ${message.orderId} has no count to give back`);
    }
  }
  return [answer(message, 'orders', 'coupon.restored', {})];
}

function redeemed(cause: Message, discount: Money): OutgoingMessage {
  return answer(cause, 'orders', 'coupon.redeemed', { discount: toAmountString(discount) });
}

function rejected(cause: Message, reason: CouponRejection): OutgoingMessage {
  return answer(cause, 'orders', 'coupon.rejected', { reason });
}

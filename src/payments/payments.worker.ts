// The payments module's handler for queue "payments": charge and its undo, refund, side by side.
// The provider is called outside any transaction (a slow provider must not hold a connection or
// a lock); its idempotency key makes a second call harmless, and the answer, the payments row
// and the inbox row then commit together through handleOnce.
import type { Job } from 'bullmq';
import type { z } from 'zod';
import { isZero, parseMoney, roundToMinor, toAmountString, type Money } from '../domain/money.ts';
import type { Pool } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import { answer, type Message } from '../../queues/message.ts';
import type { paymentMessages } from '../../queues/queues.ts';
import { createGroupCommit } from '../messaging/group-commit.ts';
import { alreadyHandled } from '../messaging/outbox.sql.ts';
import {
  handleBatch,
  type BatchEffect,
  type HandleOnceDeps,
  type ModuleRuntime,
  type Work,
} from '../messaging/handle-once.ts';
import { PermanentError, handlerOf, type MessageHandler } from '../messaging/module-worker.ts';
import {
  ProviderTransientError,
  type ChargeRequest,
  type ChargeResult,
  type PaymentProvider,
  type RefundResult,
} from './provider.port.ts';
import {
  cancelPendingCharge,
  chargeKeyOf,
  beginCharges,
  type ChargeToBegin,
  recordRefund,
  refundKeyOf,
  settleCharges as settleChargeRows,
  type ChargeSettlement,
} from './payments.sql.ts';

export interface PaymentsDeps extends HandleOnceDeps {
  logger: Logger;
  provider: PaymentProvider;
}

type PaymentPayload = z.infer<(typeof paymentMessages)['payment.charge']>;

/** What the engine concludes about a charge: the provider's answer, or none before the attempts ran out. */
type ChargeOutcome = ChargeResult | { status: 'timeout' };

const consumer = 'payments';
/** The provider_ref answered for an order that costs nothing: no provider call is made. */
export const zeroAmountProviderRef = 'zero_amount';

/**
 * The provider is asked in prepare, per message and outside any transaction; what it answered is
 * then written by the batch's transaction, with the inbox row and the answer to the order.
 */
export function createPaymentsRuntime(deps: PaymentsDeps): ModuleRuntime {
  const begin = chargeBeginner(deps.pool);
  return {
    consumer,
    async prepare(message, job) {
      switch (message.type) {
        case 'payment.charge':
          return prepareCharge(deps, begin, message, job ?? firstAttempt);
        case 'payment.refund':
          return prepareRefund(deps, message);
        default:
          throw new PermanentError(`payments does not handle ${message.type}`);
      }
    },
    commit: async (works) => void (await handleBatch(deps, consumer, works)),
  };
}

export function createPaymentsHandler(deps: PaymentsDeps): MessageHandler {
  return handlerOf(createPaymentsRuntime(deps));
}

/** A message handled outside BullMQ: its first and only attempt. */
const firstAttempt = { attemptsMade: 0, opts: { attempts: 1 } } as Job;

/** Says whether a charge may be asked for (its message was not processed before), having recorded it pending. */
type ChargeBeginner = (charge: ChargeToBegin) => Promise<boolean>;

/**
 * The charges that arrive together are begun in one statement (group commit, as the answers are):
 * a worker's concurrent jobs wait for the same round trip, and a batch that fails is begun again
 * charge by charge.
 */
function chargeBeginner(pool: Pool): ChargeBeginner {
  interface Begun {
    charge: ChargeToBegin;
    handled: boolean;
  }
  const batcher = createGroupCommit<Begun>({ batchSizeMax: 64, batchesInFlightMax: 2, lingerMs: 0 }, async (batch) => {
    const handled = await beginCharges(
      pool,
      consumer,
      batch.map((b) => b.charge),
    );
    for (const begun of batch) begun.handled = handled.has(begun.charge.messageId);
  });
  return async (charge) => {
    const begun: Begun = { charge, handled: false };
    await batcher.submit(begun);
    return !begun.handled;
  };
}

async function prepareCharge(
  deps: PaymentsDeps,
  begin: ChargeBeginner,
  message: Message,
  job: Job,
): Promise<Work | null> {
  const payload = message.payload as PaymentPayload;
  const amount = amountOf(payload);
  const idempotencyKey = chargeKeyOf(message.orderId);
  const proceed = await begin({
    messageId: message.messageId,
    idempotencyKey,
    orderId: message.orderId,
    amount: toAmountString(amount),
    currency: amount.currency,
  });
  if (!proceed) return null;
  const request = { idempotencyKey, orderId: message.orderId, customerId: payload.customer_id, amount };
  const outcome: ChargeOutcome = isZero(amount)
    ? { status: 'succeeded', providerRef: zeroAmountProviderRef }
    : await chargeAtProvider(deps, job, request);
  if (outcome.status === 'timeout') {
    deps.logger.warn({ orderId: message.orderId, attempt: job.attemptsMade + 1 }, 'payment.charge: attempts exhausted');
  }
  const work: Work = {
    message,
    effect: (client) => settleCharges.apply(client, [work]),
    batch: settleCharges,
    prepared: { idempotencyKey, outcome } satisfies PreparedCharge,
  };
  return work;
}

interface PreparedCharge {
  idempotencyKey: string;
  outcome: ChargeOutcome;
}

/** The provider's answers of a batch's charges, written in one statement, each answering its order. */
const settleCharges: BatchEffect = {
  name: 'payment.charge',
  async apply(client, works) {
    const prepared = works.map((w) => ({ message: w.message, ...(w.prepared as PreparedCharge) }));
    await settleChargeRows(
      client,
      prepared.map((p) => ({ idempotencyKey: p.idempotencyKey, settlement: settlementOf(p.outcome) })),
    );
    return prepared.map((p) => chargeAnswer(p.message, p.outcome));
  },
};

/**
 * Asks the provider once. A retry first asks what the provider recorded, since the previous
 * attempt may have charged and lost the answer. A transient failure is thrown so BullMQ retries
 * with backoff; on the last attempt it becomes 'timeout', and the order's compensation then
 * refunds with the same charge key, which voids or refunds any charge that lands late.
 */
async function chargeAtProvider(deps: PaymentsDeps, job: Job, request: ChargeRequest): Promise<ChargeOutcome> {
  try {
    if (job.attemptsMade > 0) {
      const recorded = await deps.provider.status(request.idempotencyKey);
      if (recorded !== null) {
        if (recorded.kind !== 'charge')
          throw new Error(`charge key ${request.idempotencyKey} holds a ${recorded.kind}`);
        return recorded.result;
      }
    }
    return await deps.provider.charge(request);
  } catch (error) {
    if (!(error instanceof ProviderTransientError) || !isLastAttempt(job)) throw error;
    return { status: 'timeout' };
  }
}

function settlementOf(outcome: ChargeOutcome): ChargeSettlement {
  switch (outcome.status) {
    case 'succeeded':
      return { status: 'succeeded', providerRef: outcome.providerRef, failureReason: null };
    case 'declined':
      return { status: 'declined', providerRef: null, failureReason: outcome.reason };
    case 'voided':
      return { status: 'cancelled', providerRef: null, failureReason: 'payment_cancelled' };
    case 'timeout':
      return { status: 'cancelled', providerRef: null, failureReason: 'payment_timeout' };
  }
}

function chargeAnswer(message: Message, outcome: ChargeOutcome) {
  switch (outcome.status) {
    case 'succeeded':
      return answer(message, 'orders', 'payment.succeeded', { provider_ref: outcome.providerRef });
    case 'declined':
      return answer(message, 'orders', 'payment.failed', { reason: outcome.reason });
    case 'voided':
      return answer(message, 'orders', 'payment.failed', { reason: 'payment_cancelled' });
    case 'timeout':
      return answer(message, 'orders', 'payment.failed', { reason: 'payment_timeout' });
  }
}

/**
 * The undo of a charge, whether the charge succeeded, failed, is still in flight or never
 * arrived: the provider refunds it, or voids its key so that a late charge is refused. A
 * transient failure is retried: there is no safe answer but "refunded". A refund that exhausts its
 * attempts, or that the provider refuses for good, escalates its order to needs_attention.
 */
async function prepareRefund(deps: PaymentsDeps, message: Message): Promise<Work | null> {
  if (await alreadyHandled(deps.pool, consumer, message.messageId)) return null;
  const amount = amountOf(message.payload as PaymentPayload);
  const idempotencyKey = refundKeyOf(message.orderId);
  const chargeIdempotencyKey = chargeKeyOf(message.orderId);
  // A zero charge never reached the provider, so there is nothing to refund or to void.
  const result: RefundResult = isZero(amount)
    ? { status: 'nothing_to_refund' }
    : await deps.provider.refund({
        idempotencyKey,
        chargeIdempotencyKey,
        orderId: message.orderId,
        amount,
        customerId: (message.payload as PaymentPayload).customer_id,
      });
  // Refused for good: no retry helps. The worker escalates the order (src/messaging/escalation.ts).
  if (result.status === 'refused')
    throw new PermanentError(`payment.refund of order ${message.orderId} refused: ${result.reason}`, result.reason);
  const refunded = result.status === 'refunded' ? toAmountString(result.amount) : '0';
  return {
    message,
    effect: async (client) => {
      await recordRefund(client, {
        idempotencyKey,
        orderId: message.orderId,
        amount: refunded,
        currency: amount.currency,
        providerRef: result.status === 'refunded' ? result.providerRef : null,
        failureReason: result.status === 'refunded' ? null : result.status,
      });
      await cancelPendingCharge(client, chargeIdempotencyKey);
      return [answer(message, 'orders', 'payment.refunded', { amount: refunded })];
    },
  };
}

function isLastAttempt(job: Job): boolean {
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

/** The payload's amount as Money. More digits than the currency's minor unit is a sender bug. */
function amountOf(payload: PaymentPayload): Money {
  let amount: Money;
  try {
    amount = parseMoney(payload.amount, payload.currency);
  } catch (error) {
    throw new PermanentError(`payment amount: ${(error as Error).message}`);
  }
  if (!roundToMinor(amount).amount.eq(amount.amount)) {
    throw new PermanentError(
      `payment amount ${payload.amount} ${payload.currency} is finer than the currency's minor unit`,
    );
  }
  return amount;
}

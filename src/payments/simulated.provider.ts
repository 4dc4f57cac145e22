// The bundled payment provider: a simulation with a real provider's idempotency semantics, seeded
// faults (see simulated-provider.faults.ts for the test customers) and its own book in PostgreSQL,
// so double charges and unrefunded money can be counted (providerNetByOrder).
//
// Race safety comes from the book, not from the caller: the charge key is UNIQUE, a charge is one
// INSERT ... ON CONFLICT DO NOTHING, and a refund first claims the charge key with a void (same
// conflict rule), then locks the charge row. A concurrent charge and refund therefore end as
// "charged, then refunded" or "voided, charge refused", never as "charged, not refunded".
import { Decimal, parseMoney, toAmountString, type Money } from '../domain/money.ts';
import type { Config } from '../platform/config.ts';
import { sleep, withTransaction, type Client, type Pool } from '../platform/db.ts';
import {
  ProviderLostResponseError,
  ProviderTransientError,
  type ChargeRequest,
  type ChargeResult,
  type PaymentProvider,
  type ProviderRecord,
  type RefundRequest,
  type RefundResult,
} from './provider.port.ts';
import {
  CallCounter,
  planCall,
  type CallKind,
  type CallPlan,
  type SimulatedFaultOptions,
} from './simulated-provider.faults.ts';
import { findByKey, newProviderId, recordOnce, refundedSoFar, type ProviderRow } from './simulated-provider.sql.ts';

export { providerNetByOrder, type ProviderNet } from './simulated-provider.sql.ts';
export type { SimulatedFaultOptions } from './simulated-provider.faults.ts';

export interface SimulatedProviderOptions extends SimulatedFaultOptions {
  /** Bound on the per-key call counts kept in memory. */
  callCountKeysMax?: number;
  /** Refunds for customer ids starting with this are refused for good ('' refuses none). */
  refuseRefundsPrefix?: string;
}

export function simulatedProviderOptionsFrom(config: Config): SimulatedProviderOptions {
  return {
    seed: config.PAYMENT_SIM_SEED,
    latencyMsMin: config.PAYMENT_SIM_LATENCY_MS_MIN,
    latencyMsMax: config.PAYMENT_SIM_LATENCY_MS_MAX,
    transientRate: config.PAYMENT_SIM_TRANSIENT_RATE,
    declineRate: config.PAYMENT_SIM_DECLINE_RATE,
    lostResponseRate: config.PAYMENT_SIM_LOST_RESPONSE_RATE,
    refuseRefundsPrefix: config.PAYMENT_SIM_REFUSE_REFUNDS_PREFIX,
  };
}

export function createSimulatedProvider(pool: Pool, options: SimulatedProviderOptions): PaymentProvider {
  const counter = new CallCounter(options.callCountKeysMax);

  /** Waits the seeded latency and fails the call before anything is recorded, if planned. */
  async function begin(kind: CallKind, key: string, customerId: string | null = null): Promise<CallPlan> {
    const callNumber = counter.next(kind, key);
    const plan = planCall(options, kind, key, callNumber, customerId);
    if (plan.latencyMs > 0) await sleep(plan.latencyMs);
    if (plan.transient)
      throw new ProviderTransientError(`simulated: ${kind} ${key} failed before recording (call ${callNumber})`);
    return plan;
  }

  function end<T>(plan: CallPlan, kind: CallKind, key: string, result: T): T {
    if (plan.loseResponse) throw new ProviderLostResponseError(`simulated: ${kind} ${key} recorded, answer lost`);
    return result;
  }

  return {
    async charge(request: ChargeRequest): Promise<ChargeResult> {
      assertPositive(request.amount, request.idempotencyKey);
      const plan = await begin('charge', request.idempotencyKey, request.customerId);
      const { row } = await recordOnce(pool, newProviderId('ch'), {
        idempotencyKey: request.idempotencyKey,
        kind: 'charge',
        orderId: request.orderId,
        amount: toAmountString(request.amount),
        currency: request.amount.currency,
        status: plan.decline ? 'declined' : 'succeeded',
      });
      assertSameCall(row, 'charge', request.orderId);
      return end(plan, 'charge', request.idempotencyKey, chargeResultOf(row));
    },

    async refund(request: RefundRequest): Promise<RefundResult> {
      assertPositive(request.amount, request.idempotencyKey);
      const plan = await begin('refund', request.idempotencyKey);
      // Refused before anything is recorded, as a provider's own refusal: the same key may succeed later.
      if (refuses(options.refuseRefundsPrefix, request.customerId))
        return { status: 'refused', reason: 'refund_refused' };
      const row = await withTransaction(pool, (client) => recordRefund(client, request));
      return end(plan, 'refund', request.idempotencyKey, refundResultOf(row));
    },

    async status(idempotencyKey: string): Promise<ProviderRecord | null> {
      await begin('status', idempotencyKey);
      const row = await findByKey(pool, idempotencyKey);
      if (row === null) return null;
      return row.kind === 'charge'
        ? { kind: 'charge', result: chargeResultOf(row) }
        : { kind: 'refund', result: refundResultOf(row) };
    },
  };
}

/**
 * One refund, in one transaction. The void claims the charge key if no charge holds it yet; the
 * charge row is then locked, so refunds of one charge run one at a time and never give back more
 * than was charged.
 */
async function recordRefund(client: Client, request: RefundRequest): Promise<ProviderRow> {
  const currency = request.amount.currency;
  const claim = await recordOnce(client, newProviderId('vo'), {
    idempotencyKey: request.chargeIdempotencyKey,
    kind: 'charge',
    orderId: request.orderId,
    amount: toAmountString(request.amount),
    currency,
    status: 'voided',
  });
  const charge = await findByKey(client, request.chargeIdempotencyKey, true);
  if (charge === null) throw new Error(`provider_charges: charge key ${request.chargeIdempotencyKey} vanished`);
  assertSameCall(charge, 'charge', request.orderId);

  const earlier = await findByKey(client, request.idempotencyKey);
  if (earlier !== null) {
    assertSameCall(earlier, 'refund', request.orderId);
    return earlier;
  }
  const refund = (status: ProviderRow['status'], amount: string) =>
    recordOnce(client, newProviderId('re'), {
      idempotencyKey: request.idempotencyKey,
      kind: 'refund',
      orderId: request.orderId,
      amount,
      currency,
      status,
      refundsCharge: charge.id,
    }).then((r) => r.row);

  if (claim.created) return refund('voided', toAmountString(request.amount));
  if (charge.status !== 'succeeded') return refund('declined', toAmountString(request.amount));
  if (charge.currency !== currency)
    throw new Error(`refund ${request.idempotencyKey} in ${currency}, charge in ${charge.currency}`);
  const refundable = new Decimal(charge.amount).minus(await refundedSoFar(client, charge.id));
  const amount = Decimal.min(refundable, request.amount.amount);
  if (amount.lte(0)) return refund('declined', toAmountString(request.amount));
  return refund('succeeded', amount.toFixed());
}

function refuses(prefix: string | undefined, customerId: string | undefined): boolean {
  return prefix !== undefined && prefix !== '' && customerId !== undefined && customerId.startsWith(prefix);
}

function chargeResultOf(row: ProviderRow): ChargeResult {
  switch (row.status) {
    case 'succeeded':
      return { status: 'succeeded', providerRef: row.id };
    case 'declined':
      return { status: 'declined', reason: 'payment_declined' };
    case 'voided':
      return { status: 'voided' };
  }
}

function refundResultOf(row: ProviderRow): RefundResult {
  switch (row.status) {
    case 'succeeded':
      return { status: 'refunded', providerRef: row.id, amount: moneyOf(row) };
    case 'voided':
      return { status: 'voided' };
    case 'declined':
      return { status: 'nothing_to_refund' };
  }
}

function moneyOf(row: ProviderRow): Money {
  return parseMoney(row.amount, row.currency);
}

function assertPositive(amount: Money, key: string): void {
  // The book refuses amounts <= 0 (CHECK); a zero amount reaching the provider is the caller's bug.
  if (!amount.amount.gt(0)) throw new Error(`provider call ${key} with non-positive amount ${amount.amount.toFixed()}`);
}

/** An idempotency key reused for another order or another kind of call is a caller bug. */
function assertSameCall(row: ProviderRow, kind: ProviderRow['kind'], orderId: string): void {
  if (row.kind !== kind || row.order_id !== orderId.toLowerCase()) {
    throw new Error(`idempotency key ${row.idempotency_key} already used for ${row.kind} of order ${row.order_id}`);
  }
}

// The payments module on the real database: the handler is called with messages as the runner
// would, and the simulated provider's own book says how much money really moved.
import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoreDeps } from '../../src/main/core-deps.ts';
import { PermanentError, type MessageHandler } from '../../src/messaging/module-worker.ts';
import { chargeKeyOf, findPayment, refundKeyOf } from '../../src/payments/payments.sql.ts';
import { createPaymentsHandler } from '../../src/payments/payments.worker.ts';
import {
  ProviderLostResponseError,
  ProviderTransientError,
  type PaymentProvider,
} from '../../src/payments/provider.port.ts';
import { money } from '../../src/domain/money.ts';
import { sleep } from '../../src/platform/db.ts';
import {
  createSimulatedProvider,
  providerNetByOrder,
  type SimulatedProviderOptions,
} from '../../src/payments/simulated.provider.ts';
import { createTestDeps, messageFor } from '../support/harness.ts';

const attempts = 8;
const job = (attemptsMade: number) => ({ attemptsMade, opts: { attempts } }) as unknown as Job;
const noFaults: SimulatedProviderOptions = {
  seed: 7,
  latencyMsMin: 0,
  latencyMsMax: 3,
  transientRate: 0,
  declineRate: 0,
  lostResponseRate: 0,
};

/** Wraps a provider and counts its calls, so a test can tell "asked status" from "charged again". */
function counting(inner: PaymentProvider) {
  const calls = { charge: 0, refund: 0, status: 0 };
  const provider: PaymentProvider = {
    charge: (r) => (calls.charge++, inner.charge(r)),
    refund: (r) => (calls.refund++, inner.refund(r)),
    status: (k) => (calls.status++, inner.status(k)),
  };
  return { provider, calls };
}

let deps: CoreDeps;
let calls: { charge: number; refund: number; status: number };
let handle: MessageHandler;

beforeAll(() => {
  deps = createTestDeps();
  const counted = counting(createSimulatedProvider(deps.pool, noFaults));
  calls = counted.calls;
  handle = createPaymentsHandler({
    pool: deps.pool,
    dispatcher: deps.dispatcher,
    logger: deps.logger,
    provider: counted.provider,
  });
});

afterAll(async () => {
  await deps.close();
});

const charge = (orderId: string, customerId = 'cust-1', amount = '25.00') =>
  messageFor(orderId, 'payment.charge', { amount, currency: 'USD', customer_id: customerId });
const refund = (orderId: string, amount = '25.00') =>
  messageFor(orderId, 'payment.refund', { amount, currency: 'USD', customer_id: 'cust-1' });

async function answersTo(orderId: string): Promise<Array<{ type: string; payload: Record<string, unknown> }>> {
  const result = await deps.pool.query<{ type: string; payload: Record<string, unknown> }>(
    `SELECT type, payload FROM outbox WHERE destination = 'queue:orders' AND key = $1 ORDER BY id`,
    [orderId],
  );
  return result.rows;
}

async function netOf(orderId: string) {
  const rows = await providerNetByOrder(deps.pool, [orderId]);
  expect(rows.length).toBeLessThanOrEqual(1);
  return rows[0] ?? { chargesSucceeded: 0, charged: '0', refunded: '0', net: '0' };
}

async function bookRows(orderId: string) {
  const result = await deps.pool.query<{ idempotency_key: string; kind: string; status: string; amount: string }>(
    `SELECT idempotency_key, kind, status, amount FROM provider_charges WHERE order_id = $1 ORDER BY created_at, kind`,
    [orderId],
  );
  return result.rows;
}

describe('payment.charge', () => {
  it('charges once and answers payment.succeeded with the provider reference', async () => {
    const orderId = randomUUID();
    await handle(charge(orderId), job(0));

    const rows = await bookRows(orderId);
    expect(rows).toEqual([
      { idempotency_key: chargeKeyOf(orderId), kind: 'charge', status: 'succeeded', amount: '25.0000' },
    ]);
    const answers = await answersTo(orderId);
    expect(answers).toHaveLength(1);
    expect(answers[0]?.type).toBe('payment.succeeded');
    const payment = await findPayment(deps.pool, chargeKeyOf(orderId));
    expect(payment).toMatchObject({ kind: 'charge', status: 'succeeded', amount: '25.0000', currency: 'USD' });
    expect(answers[0]?.payload).toEqual({ provider_ref: payment?.provider_ref });
    expect(await netOf(orderId)).toMatchObject({ chargesSucceeded: 1, charged: '25.0000', net: '25.0000' });
  });

  it('does nothing for the same message a second time: one charge, one answer, no provider call', async () => {
    const orderId = randomUUID();
    await handle(charge(orderId), job(0));
    const before = { ...calls };
    await handle(charge(orderId), job(0));
    await handle(charge(orderId), job(1));

    expect(calls).toEqual(before);
    expect(await netOf(orderId)).toMatchObject({ chargesSucceeded: 1, charged: '25.0000' });
    expect((await answersTo(orderId)).map((a) => a.type)).toEqual(['payment.succeeded']);
  });

  it('treats a decline as final: payment.failed payment_declined, no money moves', async () => {
    const orderId = randomUUID();
    await handle(charge(orderId, 'test_decline_card'), job(0));

    expect(await answersTo(orderId)).toEqual([{ type: 'payment.failed', payload: { reason: 'payment_declined' } }]);
    expect(await netOf(orderId)).toMatchObject({ chargesSucceeded: 0, charged: '0', net: '0' });
    expect(await findPayment(deps.pool, chargeKeyOf(orderId))).toMatchObject({
      status: 'declined',
      failure_reason: 'payment_declined',
    });
  });

  it('retries transient failures (test_transient_2): two throws, then exactly one charge', async () => {
    const orderId = randomUUID();
    const message = charge(orderId, 'test_transient_2');
    await expect(handle(message, job(0))).rejects.toBeInstanceOf(ProviderTransientError);
    await expect(handle(message, job(1))).rejects.toBeInstanceOf(ProviderTransientError);
    expect(await bookRows(orderId)).toEqual([]);
    expect(await answersTo(orderId)).toEqual([]);
    expect(await findPayment(deps.pool, chargeKeyOf(orderId))).toMatchObject({ status: 'pending' });

    await handle(message, job(2));
    expect(await netOf(orderId)).toMatchObject({ chargesSucceeded: 1, charged: '25.0000' });
    expect((await answersTo(orderId)).map((a) => a.type)).toEqual(['payment.succeeded']);
  });

  it('recovers a lost response through status on the retry, without charging again', async () => {
    const orderId = randomUUID();
    const message = charge(orderId, 'test_lost_response');
    await expect(handle(message, job(0))).rejects.toBeInstanceOf(ProviderLostResponseError);
    const recorded = await bookRows(orderId);
    expect(recorded).toMatchObject([{ kind: 'charge', status: 'succeeded' }]);
    expect(await answersTo(orderId)).toEqual([]);

    const before = { ...calls };
    await handle(message, job(1));
    expect(calls.status - before.status).toBe(1);
    expect(calls.charge - before.charge).toBe(0);
    expect(await netOf(orderId)).toMatchObject({ chargesSucceeded: 1, charged: '25.0000' });
    const answers = await answersTo(orderId);
    expect(answers.map((a) => a.type)).toEqual(['payment.succeeded']);
    expect(answers[0]?.payload.provider_ref).toBe((await findPayment(deps.pool, chargeKeyOf(orderId)))?.provider_ref);
  });

  it('answers payment_timeout on the last attempt (test_timeout) and throws on the ones before', async () => {
    const orderId = randomUUID();
    const message = charge(orderId, 'test_timeout');
    await expect(handle(message, job(attempts - 2))).rejects.toBeInstanceOf(ProviderTransientError);
    await handle(message, job(attempts - 1));

    expect(await answersTo(orderId)).toEqual([{ type: 'payment.failed', payload: { reason: 'payment_timeout' } }]);
    expect(await findPayment(deps.pool, chargeKeyOf(orderId))).toMatchObject({
      status: 'cancelled',
      failure_reason: 'payment_timeout',
    });
    // The compensation that follows voids the key: nothing was charged, nothing can be later.
    await handle(refund(orderId), job(0));
    expect(await bookRows(orderId)).toMatchObject([{ kind: 'charge', status: 'voided' }, { kind: 'refund' }]);
    expect(await netOf(orderId)).toMatchObject({ chargesSucceeded: 0, net: '0' });
  });

  it('refuses an amount finer than the currency minor unit as a sender bug, before any provider call', async () => {
    const orderId = randomUUID();
    const before = { ...calls };
    await expect(handle(charge(orderId, 'cust-1', '10.005'), job(0))).rejects.toBeInstanceOf(PermanentError);
    expect(calls).toEqual(before);
    expect(await findPayment(deps.pool, chargeKeyOf(orderId))).toBeNull();
  });

  it('succeeds without a provider call for an order that costs nothing', async () => {
    const orderId = randomUUID();
    const before = { ...calls };
    await handle(charge(orderId, 'cust-1', '0.00'), job(0));
    await handle(refund(orderId, '0.00'), job(0));

    expect(calls).toEqual(before);
    expect((await answersTo(orderId)).map((a) => [a.type, a.payload])).toEqual([
      ['payment.succeeded', { provider_ref: 'zero_amount' }],
      ['payment.refunded', { amount: '0' }],
    ]);
    expect(await bookRows(orderId)).toEqual([]);
  });
});

describe('payment.refund', () => {
  it('gives back what was charged: provider net zero, answer carries the amount', async () => {
    const orderId = randomUUID();
    await handle(charge(orderId), job(0));
    await handle(refund(orderId), job(0));
    await handle(refund(orderId), job(0));

    expect(await netOf(orderId)).toEqual(
      expect.objectContaining({ chargesSucceeded: 1, charged: '25.0000', refunded: '25.0000', net: '0.0000' }),
    );
    const answers = await answersTo(orderId);
    expect(answers.map((a) => [a.type, a.payload])).toEqual([
      ['payment.succeeded', { provider_ref: expect.any(String) }],
      ['payment.refunded', { amount: '25.00' }],
    ]);
    expect(await findPayment(deps.pool, refundKeyOf(orderId))).toMatchObject({
      status: 'succeeded',
      amount: '25.0000',
    });
  });

  it('voids the charge key when the refund comes first: the late charge is refused, no money moves', async () => {
    const orderId = randomUUID();
    await handle(refund(orderId), job(0));
    await handle(charge(orderId), job(0));

    expect((await answersTo(orderId)).map((a) => [a.type, a.payload])).toEqual([
      ['payment.refunded', { amount: '0' }],
      ['payment.failed', { reason: 'payment_cancelled' }],
    ]);
    expect(await bookRows(orderId)).toMatchObject([
      { idempotency_key: chargeKeyOf(orderId), kind: 'charge', status: 'voided' },
      { idempotency_key: refundKeyOf(orderId), kind: 'refund', status: 'voided' },
    ]);
    expect(await netOf(orderId)).toMatchObject({ chargesSucceeded: 0, charged: '0', refunded: '0', net: '0' });
    expect(await findPayment(deps.pool, chargeKeyOf(orderId))).toMatchObject({
      status: 'cancelled',
      failure_reason: 'payment_cancelled',
    });
  });

  it('retries a refund whose answer was lost without giving back twice', async () => {
    const orderId = randomUUID();
    const provider = createSimulatedProvider(deps.pool, { ...noFaults, seed: 1, lostResponseRate: 1 });
    const lossy = createPaymentsHandler({
      pool: deps.pool,
      dispatcher: deps.dispatcher,
      logger: deps.logger,
      provider,
    });
    await handle(charge(orderId), job(0));
    await expect(lossy(refund(orderId), job(0))).rejects.toBeInstanceOf(ProviderLostResponseError);
    await handle(refund(orderId), job(1));

    expect(await netOf(orderId)).toMatchObject({ chargesSucceeded: 1, refunded: '25.0000', net: '0.0000' });
    expect((await answersTo(orderId)).at(-1)).toEqual({ type: 'payment.refunded', payload: { amount: '25.00' } });
  });
});

describe('charge and refund racing', () => {
  it('ends every order charged-then-refunded or voided, never charged and not refunded', async () => {
    const provider = createSimulatedProvider(deps.pool, { ...noFaults, latencyMsMax: 8 });
    const racing = createPaymentsHandler({
      pool: deps.pool,
      dispatcher: deps.dispatcher,
      logger: deps.logger,
      provider,
    });
    const orderIds = Array.from({ length: 40 }, () => randomUUID());
    // The refund starts 0-80 ms after the charge, so it lands before, during and after the charge.
    // One order in ten has its refund settle before the charge starts, and one its charge settle
    // before the refund: both endings happen even on a machine too loaded for the timings to tell.
    await Promise.all(
      orderIds.map(async (orderId, i) => {
        if (i % 10 === 0) {
          await racing(refund(orderId), job(0));
          await racing(charge(orderId), job(0));
        } else if (i % 10 === 9) {
          await racing(charge(orderId), job(0));
          await racing(refund(orderId), job(0));
        } else {
          await Promise.all([
            racing(charge(orderId), job(0)),
            sleep((i % 10) * 10).then(() => racing(refund(orderId), job(0))),
          ]);
        }
      }),
    );

    const nets = await providerNetByOrder(deps.pool, orderIds);
    expect(nets).toHaveLength(orderIds.length);
    for (const net of nets) {
      expect(net.chargesSucceeded).toBeLessThanOrEqual(1);
      expect(net.refunded).toBe(net.charged);
    }
    const charged = nets.filter((n) => n.chargesSucceeded === 1).length;
    // Both endings happened, so the race really ran both ways.
    expect(charged).toBeGreaterThan(0);
    expect(charged).toBeLessThan(orderIds.length);
    // Each order answered both commands exactly once.
    for (const orderId of orderIds) {
      const types = (await answersTo(orderId)).map((a) => a.type).sort();
      expect(types).toHaveLength(2);
      expect(types).toContain('payment.refunded');
    }
  });

  it('holds at the provider itself: a charge and a refund with one key pair, started together', async () => {
    const provider = createSimulatedProvider(deps.pool, { ...noFaults, latencyMsMax: 2 });
    const amount = money('7.00', 'USD');
    const orderIds = Array.from({ length: 60 }, () => randomUUID());
    const results = await Promise.all(
      orderIds.map((orderId, i) => {
        const keys = { chargeIdempotencyKey: chargeKeyOf(orderId), orderId, amount };
        return Promise.all([
          provider.charge({ idempotencyKey: chargeKeyOf(orderId), orderId, customerId: 'cust-3', amount }),
          sleep(i % 4).then(() => provider.refund({ idempotencyKey: refundKeyOf(orderId), ...keys })),
        ]);
      }),
    );

    for (const [chargeResult, refundResult] of results) {
      // The two legal endings, and nothing else.
      if (chargeResult.status === 'succeeded') expect(refundResult).toMatchObject({ status: 'refunded' });
      else expect([chargeResult.status, refundResult.status]).toEqual(['voided', 'voided']);
    }
    for (const net of await providerNetByOrder(deps.pool, orderIds)) expect(net.refunded).toBe(net.charged);
  });

  it('keeps one charge and one refund at the provider under the same keys sent concurrently', async () => {
    const provider = createSimulatedProvider(deps.pool, { ...noFaults, latencyMsMax: 5 });
    const orderId = randomUUID();
    const amount = money('12.50', 'EUR');
    const request = { idempotencyKey: chargeKeyOf(orderId), orderId, customerId: 'cust-2', amount };
    const refundRequest = {
      idempotencyKey: refundKeyOf(orderId),
      chargeIdempotencyKey: chargeKeyOf(orderId),
      orderId,
      amount,
    };
    const charges = await Promise.all(Array.from({ length: 8 }, () => provider.charge(request)));
    const refunds = await Promise.all(Array.from({ length: 8 }, () => provider.refund(refundRequest)));

    expect(new Set(charges.map((c) => (c.status === 'succeeded' ? c.providerRef : c.status))).size).toBe(1);
    expect(new Set(refunds.map((r) => (r.status === 'refunded' ? r.providerRef : r.status))).size).toBe(1);
    expect(await netOf(orderId)).toMatchObject({ chargesSucceeded: 1, charged: '12.5000', refunded: '12.5000' });
    expect(await provider.status(refundKeyOf(orderId))).toMatchObject({
      kind: 'refund',
      result: { status: 'refunded' },
    });
  });
});

// A compensation that keeps failing is escalated, never silently stuck (issue 21, part 2). The
// simulated provider refuses refunds for a user prefix: an order cancelled after payment halts in
// needs_attention with its reason and failing step recorded, an event for Kafka and a dead letter,
// and the gauge counts it. Both resolve actions are then taken through the admin API: retry (after
// the refusal is lifted) completes the refund; mark_compensated goes on without it, with the note
// in the audit trail and the transition, and no ledger row added. The invariants hold after each.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInvariants } from '../../chaos/invariants.ts';
import { listAudit } from '../../src/audit/audit.sql.ts';
import { stockOf } from '../../src/inventory/inventory.sql.ts';
import { applyInvariants, readInvariants } from '../../src/observability/invariants.check.ts';
import { orderHistory } from '../../src/orders/order.queries.ts';
import { readOrder } from '../../src/orders/order.sql.ts';
import { providerNetByOrder } from '../../src/payments/simulated.provider.ts';
import { createMetrics } from '../../src/platform/metrics.ts';
import type { Pool } from '../../src/platform/db.ts';
import { freshDatabase } from '../support/database.ts';
import { address, freshProduct, getJson, postJson, startTestEngine, type TestEngine } from '../support/engine.ts';
import { until } from '../support/harness.ts';

const refusing = { QUEUE_ATTEMPTS: '3', QUEUE_BACKOFF_MS: '50', PAYMENT_SIM_REFUSE_REFUNDS_PREFIX: 'refuse_' };
let databaseUrl: string;
let engine: TestEngine;

beforeAll(async () => {
  databaseUrl = await freshDatabase('escalation');
  engine = await startTestEngine({ ...refusing, DATABASE_URL: databaseUrl });
}, 60_000);
afterAll(async () => {
  await engine?.close();
});

async function confirmedOrder(userId: string): Promise<string> {
  const product = await freshProduct(engine.core, 5, '25.00');
  const res = await postJson(
    `${engine.url}/api/v1/orders`,
    { user_id: userId, currency: 'USD', shipping_address: address, items: [{ product_id: product, quantity: 1 }] },
    { Prefer: 'wait=15' },
  );
  expect(res.body.status).toBe('confirmed');
  return res.body.id as string;
}

async function needsAttention(id: string) {
  return until(async () => {
    const order = await readOrder(engine.core.pool, id);
    return order?.status === 'needs_attention' ? order : undefined;
  }, 20_000);
}

/** The gauge as the periodic check sets it. */
async function gaugeNow(pool: Pool): Promise<number> {
  const metrics = createMetrics(false);
  applyInvariants(metrics, await readInvariants(pool, 300_000), ['payments']);
  const scrape = await metrics.registry.metrics();
  const line = scrape.split('\n').find((l) => l.startsWith('order_engine_orders_needing_attention '));
  return Number(line?.split(' ')[1]);
}

const ledgerRowsOf = async (pool: Pool, id: string) =>
  Number(
    (await pool.query(`SELECT count(*) AS n FROM ledger_transactions WHERE order_id = $1`, [id])).rows[0].n as string,
  );

const resolve = (id: string, body: unknown) => postJson(`${engine.url}/api/v1/admin/orders/${id}/resolve`, body);

describe('a refund refused for good', () => {
  let byHand: string;
  let retried: string;

  it('halts the order in needs_attention with its reason, step, event and dead letter; the gauge counts it', async () => {
    expect(await gaugeNow(engine.core.pool)).toBe(0);
    byHand = await confirmedOrder('refuse_byhand');
    retried = await confirmedOrder('refuse_retry');
    for (const id of [byHand, retried]) {
      const cancel = await postJson(`${engine.url}/api/v1/admin/orders/${id}/cancel`, {});
      expect(cancel.status).toBe(202);
    }
    for (const id of [byHand, retried]) {
      const order = await needsAttention(id);
      expect(order.state).toBe('needsAttention');
      const detail = await getJson(`${engine.url}/api/v1/admin/orders/${id}/timeline`);
      expect(detail.body.order.attention).toEqual({
        step: 'refunding',
        command: 'payment.refund',
        reason: 'refund_refused',
      });
      expect(detail.body.transitions.at(-1)).toMatchObject({
        from_state: 'compensating.refunding',
        to_state: 'needsAttention',
        event_type: 'compensation.failed',
      });
      expect(detail.body.events.map((e: { type: string }) => e.type)).toContain('order.needs_attention');
      expect(detail.body.dead_letters).toHaveLength(1);
      expect(detail.body.dead_letters[0]).toMatchObject({ queue: 'payments', message_id: `${id}.payment.refund` });
      // The ledger was reversed before the refund was asked; the charge is still at the provider.
      const [net] = await providerNetByOrder(engine.core.pool, [id]);
      expect(net).toMatchObject({ net: '25.0000' });
    }
    expect(await gaugeNow(engine.core.pool)).toBe(2);
    const report = await checkInvariants(engine.core.pool, [byHand]);
    expect(report.violations).toContain(`order ${byHand} (needs_attention) is not final`);
  });

  it('refuses a bad resolve with a code naming the field, and an order not in needs_attention', async () => {
    const badAction = await resolve(byHand, { action: 'refund', note: 'x' });
    expect(badAction.status).toBe(400);
    expect(badAction.body.error).toMatchObject({ code: 'validation_failed', field: 'action' });
    const noNote = await resolve(byHand, { action: 'retry' });
    expect(noNote.status).toBe(400);
    expect(noNote.body.error).toMatchObject({ code: 'validation_failed', field: 'note' });
    const extra = await resolve(byHand, { action: 'retry', note: 'x', amount: '1' });
    expect(extra.status).toBe(400);
    const confirmed = await confirmedOrder('happy_one');
    const notHalted = await resolve(confirmed, { action: 'retry', note: 'x' });
    expect(notHalted.status).toBe(409);
    expect(notHalted.body.error).toMatchObject({ code: 'order_not_in_attention', field: 'id' });
    expect((await listAudit(engine.core.pool, { orderId: confirmed, limit: 5 })).entries[0]).toMatchObject({
      action: 'order.resolve',
      outcome: 'order_not_in_attention',
    });
  });

  it('mark_compensated goes on without the refund: cancelled, note audited and in the transition, no ledger row', async () => {
    const ledgerBefore = await ledgerRowsOf(engine.core.pool, byHand);
    const note = 'refunded by bank transfer, ticket OPS-42';
    const res = await resolve(byHand, { action: 'mark_compensated', note });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: byHand, action: 'mark_compensated' });
    expect(res.body.dead_letters_dropped).toEqual([`${byHand}.payment.refund`]);
    const order = await until(async () => {
      const o = await readOrder(engine.core.pool, byHand);
      return o?.status === 'cancelled' ? o : undefined;
    });
    expect(order.failure_reason).toBe('cancelled_by_operator');
    const history = await orderHistory(engine.core.pool, byHand);
    const resolved = history.find((t) => t.event_type === 'order.resolve');
    expect(resolved).toMatchObject({ from_state: 'needsAttention', to_state: 'compensating.releasingStock' });
    expect(resolved?.event).toMatchObject({ action: 'mark_compensated', note, operator: 'test-admin' });
    const audit = (await listAudit(engine.core.pool, { orderId: byHand, action: 'order.resolve', limit: 5 })).entries;
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      outcome: 'ok',
      actor: 'test-admin',
      detail: { action: 'mark_compensated', note },
    });
    expect(await ledgerRowsOf(engine.core.pool, byHand)).toBe(ledgerBefore);
    // The refund happened outside the engine: the provider still holds the charge; stock came back.
    const [net] = await providerNetByOrder(engine.core.pool, [byHand]);
    expect(net).toMatchObject({ net: '25.0000' });
    const items = order.items as Array<{ product_id: string }>;
    expect((await stockOf(engine.core.pool, [items[0]!.product_id]))[0]).toMatchObject({ held: 0, sold: 0 });
    expect((await checkInvariants(engine.core.pool, [byHand])).violations).toEqual([]);
    expect(await gaugeNow(engine.core.pool)).toBe(1);
    const again = await resolve(byHand, { action: 'retry', note: 'twice' });
    expect(again.status).toBe(409);
  });

  it('retry after the refusal is lifted completes the refund and the compensation', async () => {
    await engine.close();
    engine = await startTestEngine({ ...refusing, PAYMENT_SIM_REFUSE_REFUNDS_PREFIX: '', DATABASE_URL: databaseUrl });
    const res = await resolve(retried, { action: 'retry', note: 'provider lifted the block' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'cancelling', state: 'compensating.refunding' });
    const order = await until(async () => {
      const o = await readOrder(engine.core.pool, retried);
      return o?.status === 'cancelled' ? o : undefined;
    }, 20_000);
    expect(order.state).toBe('cancelled');
    const history = await orderHistory(engine.core.pool, retried);
    expect(history.map((t) => t.event_type)).toContain('payment.refunded');
    const [net] = await providerNetByOrder(engine.core.pool, [retried]);
    expect(net).toMatchObject({ net: '0.0000' });
    const sent = await engine.core.pool.query(`SELECT message_id FROM outbox WHERE message_id = $1`, [
      `${retried}.payment.refund.retry1`,
    ]);
    expect(sent.rowCount).toBe(1);
    expect((await checkInvariants(engine.core.pool, [retried])).violations).toEqual([]);
    expect(await gaugeNow(engine.core.pool)).toBe(0);
  });
});

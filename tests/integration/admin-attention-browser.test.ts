// The order view's needs-attention panel in a real browser (Debian's chromium, offline guard, no
// console error but the 400 it shows), in a database of its own. Refunds are refused for good for
// refuse_ users, so an order cancelled after payment halts in needs_attention. A viewer sees the
// panel with its controls disabled; an admin sees the failing step, command and reason, is refused
// without a note (the API's 400 shown, nothing changed), marks one order compensated by hand (it
// leaves needs_attention, the audit row keeps the note) and retries the other's undo (sent again,
// refused again: the order halts again and the panel comes back).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { listAudit } from '../../src/audit/audit.sql.ts';
import { orderHistory } from '../../src/orders/order.queries.ts';
import { readOrder } from '../../src/orders/order.sql.ts';
import { launchOfflineBrowser, logIn, screenshots, type OfflineBrowser } from '../support/browser.ts';
import { freshDatabase } from '../support/database.ts';
import { placeOne, postJson, startTestEngine, type TestEngine } from '../support/engine.ts';
import { until } from '../support/harness.ts';

let engine: TestEngine;
let browser: OfflineBrowser;
let page: Page;
const run = randomUUID().slice(0, 6);
const orders = { byHand: '', retried: '' };

const statusOf = async (id: string) => (await readOrder(engine.core.pool, id))?.status;
const inAttention = (id: string) =>
  until(async () => ((await statusOf(id)) === 'needs_attention' ? true : undefined), 30_000);

beforeAll(async () => {
  engine = await startTestEngine({
    DATABASE_URL: await freshDatabase('attention'),
    QUEUE_ATTEMPTS: '3',
    QUEUE_BACKOFF_MS: '50',
    PAYMENT_SIM_REFUSE_REFUNDS_PREFIX: 'refuse_',
  });
  browser = await launchOfflineBrowser();
  ({ page } = await browser.newPage());
  orders.byHand = await placeOne(engine, `refuse_byhand_${run}`, 15);
  orders.retried = await placeOne(engine, `refuse_retry_${run}`, 15);
  for (const id of Object.values(orders)) {
    expect(await statusOf(id)).toBe('confirmed');
    expect((await postJson(`${engine.url}/api/v1/admin/orders/${id}/cancel`, {})).status).toBe(202);
  }
  for (const id of Object.values(orders)) await inAttention(id);
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await engine?.close();
});

const panel = (on: Page) => on.locator('#attention:not([hidden])');
const fact = (on: Page, name: string) => on.locator(`#attention-facts dd[data-fact="${name}"]`);

async function openOrder(on: Page, id: string): Promise<void> {
  await on.goto(`${engine.url}/admin/machine?order=${id}`);
  await on.locator('#order-status', { hasText: 'needs_attention (needsAttention)' }).waitFor({ timeout: 10_000 });
}

describe('the needs-attention panel of the order view (offline)', () => {
  it('shows a viewer what failed, with the note and both actions disabled', async () => {
    const { page: viewer } = await browser.newPage();
    await logIn(viewer, engine, 'ops-viewer', 'viewer');
    await openOrder(viewer, orders.byHand);
    await panel(viewer).waitFor({ timeout: 10_000 });
    expect(await fact(viewer, 'reason').textContent()).toBe('refund_refused');
    for (const control of ['#attention-note', '#resolve-retry', '#resolve-mark'])
      expect(await viewer.locator(control).isDisabled(), control).toBe(true);
    expect(await viewer.locator('#force-cancel').isDisabled()).toBe(true);
  });

  it('shows an admin the failing step, command and reason; refuses a resolve without a note and changes nothing', async () => {
    await logIn(page, engine, 'ops-admin', 'admin');
    await openOrder(page, orders.byHand);
    await panel(page).waitFor({ timeout: 10_000 });
    expect(await fact(page, 'failing step').textContent()).toBe('refunding');
    expect(await fact(page, 'command').textContent()).toBe('payment.refund');
    expect(await fact(page, 'reason').textContent()).toBe('refund_refused');
    await page.locator('#resolve-mark:enabled').waitFor();
    const transitionsBefore = (await orderHistory(engine.core.pool, orders.byHand)).length;
    await page.click('#resolve-mark');
    const result = page.locator('#action-result.error');
    await result.waitFor({ timeout: 10_000 });
    expect(await result.textContent()).toBe('resolve refused: note: must not be empty (validation_failed)');
    expect(await statusOf(orders.byHand)).toBe('needs_attention');
    expect(await orderHistory(engine.core.pool, orders.byHand)).toHaveLength(transitionsBefore);
    expect(
      (await listAudit(engine.core.pool, { orderId: orders.byHand, action: 'order.resolve', limit: 5 })).entries,
    ).toEqual([]);
    expect(await panel(page).isVisible()).toBe(true);
    await page.locator('#order').screenshot({ path: `${screenshots}console-attention.png` });
  });

  it('marks the undo compensated by hand: the order leaves needs_attention and the audit trail keeps the note', async () => {
    const note = `refunded by bank transfer, ticket OPS-${run}`;
    await page.fill('#attention-note', note);
    await page.click('#resolve-mark');
    await page.locator('#action-result:not(.error)', { hasText: 'resolved (mark_compensated)' }).waitFor({
      timeout: 10_000,
    });
    await page.locator('#order-status', { hasText: 'cancelled (cancelled)' }).waitFor({ timeout: 20_000 });
    await page.locator('#attention').waitFor({ state: 'hidden' });
    expect(await statusOf(orders.byHand)).toBe('cancelled');
    const entry = page.locator('#order-audit tbody tr[data-action="order.resolve"]');
    await entry.waitFor({ timeout: 10_000 });
    expect(await entry.getAttribute('data-outcome')).toBe('ok');
    expect(await entry.locator('td').nth(1).textContent()).toBe('ops-admin (admin)');
    expect(await entry.locator('td.detail').textContent()).toContain(note);
    const audit = (await listAudit(engine.core.pool, { orderId: orders.byHand, action: 'order.resolve', limit: 5 }))
      .entries;
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'ops-admin', detail: { action: 'mark_compensated', note } });
  });

  it('retries the undo: sent again under a message id of its own, refused again, halted again', async () => {
    await openOrder(page, orders.retried);
    await page.locator('#resolve-retry:enabled').waitFor({ timeout: 10_000 });
    await page.fill('#attention-note', 'try the refund once more');
    await page.click('#resolve-retry');
    await page.locator('#action-result', { hasText: 'resolved (retry)' }).waitFor({ timeout: 10_000 });
    const history = await orderHistory(engine.core.pool, orders.retried);
    expect(history.find((t) => t.event_type === 'order.resolve')).toMatchObject({
      from_state: 'needsAttention',
      to_state: 'compensating.refunding',
    });
    const sent = await engine.core.pool.query(`SELECT 1 FROM outbox WHERE message_id = $1`, [
      `${orders.retried}.payment.refund.retry1`,
    ]);
    expect(sent.rowCount).toBe(1);
    // The provider still refuses: the order halts again, and the view offers the resolve again.
    await until(async () => {
      const steps = await orderHistory(engine.core.pool, orders.retried);
      return steps.filter((t) => t.to_state === 'needsAttention').length === 2 ? true : undefined;
    }, 30_000);
    await panel(page).waitFor({ timeout: 10_000 });
    expect(await page.locator('#attention-note').inputValue()).toBe('');
    const entry = page.locator('#order-audit tbody tr[data-action="order.resolve"]');
    await entry.waitFor({ timeout: 10_000 });
    expect(await entry.locator('td.detail').textContent()).toContain('try the refund once more');
  });

  it('asked nothing of any host but 127.0.0.1, and logged no error', () => {
    expect(browser.leftLocalhost).toEqual([]);
    expect(browser.consoleErrors).toEqual([]);
  });
});

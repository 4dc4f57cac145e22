// The operator's pages in a real browser: Debian's chromium driven by playwright-core, with every
// request that leaves 127.0.0.1 refused, so the pages are proven to work offline. Login, Bull
// Board, the machine drawing (every state of the definition), the order view against
// order_transitions, a stuck order force-cancelled from the page, and refusals. Screenshots go
// to test-results/screenshots/ (or SCREENSHOTS_DIR). A missing browser fails the file, never skips.
// The console's own pages (list, landing, audit, viewer): admin-console-browser.test.ts.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { orderMachine } from '../../machines/order.machine.ts';
import { machineGraph } from '../../src/admin/machine.graph.ts';
import { orderHistory } from '../../src/orders/order.queries.ts';
import { signToken } from '../../src/platform/auth.ts';
import { launchOfflineBrowser, screenshots, type OfflineBrowser } from '../support/browser.ts';
import { address, freshProduct, postJson, startTestEngine, type TestEngine } from '../support/engine.ts';

const engineQueues = ['orders', 'inventory', 'coupons', 'payments', 'ledger', 'outbox-relay'];
const stateIds = machineGraph(orderMachine).states.map((s) => s.id);

let engine: TestEngine;
let browser: OfflineBrowser;
let context: BrowserContext;
let page: Page;
let adminToken: string;

beforeAll(async () => {
  // A test_timeout charge fails transiently on every attempt; with many attempts far apart and
  // a distant payment deadline, that order stays in charging: stuck after one second.
  engine = await startTestEngine({
    ADMIN_STUCK_AFTER_MS: '1000',
    PAYMENT_DEADLINE_MS: '600000',
    QUEUE_ATTEMPTS: '50',
    QUEUE_BACKOFF_MS: '5000',
    // Completed jobs are dropped by default; an operator who keeps some sees them on Bull Board.
    QUEUE_REMOVE_ON_COMPLETE_COUNT: '1000',
  });
  adminToken = await signToken(engine.core.config, { userId: 'ops-admin', role: 'admin', ttlSeconds: 600 });
  browser = await launchOfflineBrowser();
  ({ context, page } = await browser.newPage());
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await engine?.close();
});

async function place(userId: string, waitSeconds: number): Promise<string> {
  const product = await freshProduct(engine.core, 10);
  const token = await signToken(engine.core.config, { userId, role: 'customer', ttlSeconds: 600 });
  const res = await postJson(
    `${engine.url}/api/v1/orders`,
    { user_id: userId, currency: 'USD', items: [{ product_id: product, quantity: 1 }], shipping_address: address },
    { Prefer: `wait=${waitSeconds}`, Authorization: `Bearer ${token}` },
  );
  expect(res.status).toBeLessThan(300);
  return res.body.id as string;
}

/** The order view matches order_transitions: one timeline row per transition, each state on the path. */
async function expectOrderView(orderId: string, finalState: string): Promise<void> {
  await page.goto(`${engine.url}/admin/machine?order=${orderId}`);
  await page.locator('#order-status', { hasText: finalState }).waitFor({ timeout: 20_000 });
  const transitions = await orderHistory(engine.core.pool, orderId);
  await expect.poll(() => page.locator('#timeline tbody tr').count(), { timeout: 10_000 }).toBe(transitions.length);
  for (const [index, t] of transitions.entries()) {
    const row = page.locator('#timeline tbody tr').nth(index);
    expect(await row.getAttribute('data-to-state')).toBe(t.to_state);
    expect(await row.locator('td').nth(2).textContent()).toContain(t.event_type);
    expect(await row.locator('td').nth(4).textContent()).toBe(t.message_id);
    const onPath = await page.locator(`svg [data-state="${t.to_state}"]`).getAttribute('class');
    expect(onPath, `state ${t.to_state} is highlighted`).toMatch(/on-path/);
  }
  expect(await page.locator(`svg [data-state="${finalState}"]`).getAttribute('class')).toMatch(/current/);
  expect(await page.locator('svg .transition.on-path').count()).toBeGreaterThan(0);
}

describe('the admin pages in a real browser (offline)', () => {
  it('refuses no credentials and a customer token', async () => {
    await page.goto(`${engine.url}/admin/machine`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    const customer = await signToken(engine.core.config, { userId: 'alice', role: 'customer', ttlSeconds: 600 });
    for (const path of ['/admin/queues/api/queues', '/api/v1/admin/machine']) {
      expect((await fetch(`${engine.url}${path}`)).status).toBe(401);
      const refused = await fetch(`${engine.url}${path}`, { headers: { Authorization: `Bearer ${customer}` } });
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('admin_required');
    }
    const login = await fetch(`${engine.url}/admin/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: customer }),
    });
    expect(login.status).toBe(403);
    expect(login.headers.get('set-cookie')).toBeNull();
  });

  it('logs in with an admin token and gets an httpOnly SameSite=Strict session cookie', async () => {
    await page.goto(`${engine.url}/admin/login?next=/admin/machine`);
    await page.screenshot({ path: `${screenshots}login.png` });
    await page.fill('#token', adminToken);
    await Promise.all([page.waitForURL(`${engine.url}/admin/machine`), page.click('button[type=submit]')]);
    const session = (await context.cookies()).find((c) => c.name === 'oe_admin_session');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Strict');
    expect(session?.expires).toBeGreaterThan(Date.now() / 1_000);
  });

  it('shows every engine queue with its counts on Bull Board', async () => {
    await place(`board-${randomUUID().slice(0, 8)}`, 10);
    await page.goto(`${engine.url}/admin/queues`);
    for (const queue of engineQueues) {
      await page.getByRole('link', { name: queue, exact: true }).first().waitFor({ timeout: 15_000 });
    }
    const counts = await page.evaluate(async () => (await fetch('/admin/queues/api/queues')).json());
    const names = (counts as { queues: Array<{ name: string; counts: Record<string, number> }> }).queues;
    expect(names.map((q) => q.name).sort()).toEqual([...engineQueues].sort());
    // An order's module steps run as jobs of their module's queue (orders carries only cancels and timers).
    expect(names.find((q) => q.name === 'inventory')?.counts.completed).toBeGreaterThan(0);
    await page.screenshot({ path: `${screenshots}bull-board.png`, fullPage: true });
  });

  it('draws every state of the machine definition', async () => {
    await page.goto(`${engine.url}/admin/machine`);
    await page.locator('#refresh-status', { hasText: 'updated' }).waitFor();
    const drawn = await page
      .locator('svg#machine-svg [data-state]')
      .evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-state')));
    expect(drawn.sort()).toEqual([...stateIds].sort());
    for (const id of stateIds) expect(await page.locator(`svg [data-state="${id}"] .state-box`).count()).toBe(1);
    expect(await page.locator('svg .state-final').count()).toBe(5);
    expect(await page.locator('svg .state-compensation').count()).toBeGreaterThan(1);
    expect(await page.locator('svg .transition').count()).toBe(machineGraph(orderMachine).transitions.length);
    await page.screenshot({ path: `${screenshots}machine-fleet.png`, fullPage: true });
  });

  it('follows a confirmed and a compensated order into the order view', async () => {
    const confirmed = await place(`buyer-${randomUUID().slice(0, 8)}`, 15);
    await expectOrderView(confirmed, 'confirmed');
    const declined = await place(`test_decline_${randomUUID().slice(0, 8)}`, 15);
    await expectOrderView(declined, 'failed');
    expect(await page.locator('#timeline tbody tr.step-failure').count()).toBe(1);
    expect(await page.locator('#timeline tbody tr.step-compensation').count()).toBeGreaterThan(0);
    await page.screenshot({ path: `${screenshots}machine-order.png`, fullPage: true });
  });

  it('flags a stuck order, force-cancels it from the page, and sees it end cancelled', async () => {
    const stuck = await place(`test_timeout_${randomUUID().slice(0, 8)}`, 0);
    await page.goto(`${engine.url}/admin/machine`);
    const row = page.locator(`#stuck-table tr[data-order-id="${stuck}"]`);
    await row.waitFor({ timeout: 20_000 });
    expect(await row.locator('td').nth(1).textContent()).toBe('charging');
    expect(await row.locator('td').nth(4).textContent()).toContain('payment.charge');
    expect(await row.locator('td').nth(5).textContent()).toMatch(/payment\.charge: \d+ attempt\(s\)/);
    await page.screenshot({ path: `${screenshots}machine-stuck.png`, fullPage: true });
    await Promise.all([page.waitForURL(/order=/), row.locator('a').click()]);
    await page.locator('#force-cancel:enabled').waitFor({ timeout: 10_000 });
    await page.click('#force-cancel');
    await page.locator('#order-status', { hasText: 'cancelled (cancelled)' }).waitFor({ timeout: 30_000 });
    const final = await engine.core.pool.query(`SELECT status, failure_reason FROM orders WHERE id = $1`, [stuck]);
    expect(final.rows[0]).toEqual({ status: 'cancelled', failure_reason: 'cancelled_by_operator' });
  });

  it('asked nothing of any host but 127.0.0.1, and logged no error (no refused font, no CSP block)', () => {
    expect(browser.leftLocalhost).toEqual([]);
    expect(browser.consoleErrors).toEqual([]);
  });
});

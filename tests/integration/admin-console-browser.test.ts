// The operator's console in a real browser (Debian's chromium, every request off 127.0.0.1 refused,
// no console error allowed), in a database of its own so the lists are exact: the landing page,
// the orders list and its filters and search, a click on a state of the drawing, the order view's
// new parts (facts, the awaited job with its Bull Board page, Kafka events), the audit entries a
// force-cancel leaves, and a viewer who sees everything and is refused an action.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { readOrder } from '../../src/orders/order.sql.ts';
import { launchOfflineBrowser, logIn, screenshots, type OfflineBrowser } from '../support/browser.ts';
import { freshDatabase } from '../support/database.ts';
import { placeOne, startTestEngine, type TestEngine } from '../support/engine.ts';
import { until } from '../support/harness.ts';

let engine: TestEngine;
let browser: OfflineBrowser;
let page: Page;
const run = randomUUID().slice(0, 6);
const alice = `alice-${run}`;
const orders = { first: '', second: '', declined: '', stuck: '', other: '' };

beforeAll(async () => {
  // A test_timeout charge fails transiently on every attempt, far apart: that order stays in charging.
  engine = await startTestEngine({
    DATABASE_URL: await freshDatabase('browser'),
    ADMIN_STUCK_AFTER_MS: '1000',
    INVARIANT_CHECK_INTERVAL_MS: '1000',
    PAYMENT_DEADLINE_MS: '600000',
    QUEUE_ATTEMPTS: '50',
    QUEUE_BACKOFF_MS: '5000',
  });
  browser = await launchOfflineBrowser();
  ({ page } = await browser.newPage());
  orders.first = await placeOne(engine, alice, 15, `corr-${run}`);
  orders.second = await placeOne(engine, alice, 15);
  orders.declined = await placeOne(engine, `test_decline_${run}`, 15);
  orders.stuck = await placeOne(engine, `test_timeout_${run}`, 0);
  orders.other = await placeOne(engine, `test_timeout_other_${run}`, 0);
  for (const id of [orders.stuck, orders.other])
    await until(async () => ((await readOrder(engine.core.pool, id))?.state === 'charging' ? true : undefined));
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await engine?.close();
});

const listed = () =>
  page.locator('#orders tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.orderId));

describe('the console in a real browser (offline)', () => {
  it('lands an admin on /admin: fleet, invariants with their check time, stuck orders', async () => {
    await logIn(page, engine, 'ops-admin', 'admin');
    await page.locator('#invariants-card[data-health="green"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('#invariants li.holds').count()).toBe(5);
    expect(await page.locator('#invariants-checked').textContent()).toMatch(/last checked \d{4}-\d\d-\d\d /);
    await page.locator(`#stuck-orders a[href$="${orders.stuck}"]`).waitFor({ timeout: 10_000 });
    expect(await page.locator('#fleet-summary').textContent()).toBe('2 order(s) in flight');
    expect(await page.locator('#fleet-states a', { hasText: 'charging' }).getAttribute('href')).toBe(
      '/admin/orders?state=charging',
    );
    await page.screenshot({ path: `${screenshots}console-overview.png`, fullPage: true });
  });

  it('lists the orders newest first, filters them, searches, and names a bad filter', async () => {
    await page.goto(`${engine.url}/admin/orders`);
    await expect
      .poll(listed, { timeout: 10_000 })
      .toEqual([orders.other, orders.stuck, orders.declined, orders.second, orders.first]);
    await page.screenshot({ path: `${screenshots}console-orders.png`, fullPage: true });
    await page.selectOption('#filters select[name=status]', 'confirmed');
    await Promise.all([page.waitForURL(/status=confirmed/), page.click('#filters button[type=submit]')]);
    await expect.poll(listed).toEqual([orders.second, orders.first]);
    expect(await page.locator('#filters select[name=status]').inputValue()).toBe('confirmed');
    await page.fill('#search-q', `corr-${run}`);
    await Promise.all([page.waitForURL(/q=corr-/), page.click('#search button')]);
    await expect.poll(listed).toEqual([orders.first]);
    await page.fill('#search-q', orders.declined);
    await Promise.all([page.waitForURL(/machine\?order=/), page.click('#search button')]);
    await page.goto(`${engine.url}/admin/orders?created_after=yesterday`);
    await page.locator('#list-problem:not([hidden])').waitFor();
    expect(await page.locator('#list-problem').textContent()).toContain('created_after');
  });

  it("opens the list of a state's orders from the drawing", async () => {
    await page.goto(`${engine.url}/admin/machine`);
    await page.locator('svg [data-count-for="charging"]', { hasText: '2' }).waitFor({ timeout: 10_000 });
    await Promise.all([page.waitForURL(/\/admin\/orders\?state=charging$/), page.click('svg [data-state="charging"]')]);
    await expect.poll(listed).toEqual([orders.other, orders.stuck]);
  });

  it('shows the order itself, the job it waits for with its Bull Board page, and its Kafka events', async () => {
    await page.goto(`${engine.url}/admin/machine?order=${orders.stuck}`);
    await page.locator('#order-facts dd[data-fact="correlation id"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('#order-facts dd[data-fact="user"]').textContent()).toBe(`test_timeout_${run}`);
    expect(await page.locator('#order-facts dd[data-fact="total"]').textContent()).toContain('10.00 USD');
    expect(await page.locator('#order-facts dd[data-fact="ship to"]').textContent()).toContain('London');
    expect(await page.locator('#order-items tbody tr').count()).toBe(1);
    const charge = page.locator(`#waiting tbody tr[data-message-id^="${orders.stuck}.payment.charge"]`);
    await charge.locator('td', { hasText: /of 50$/ }).waitFor({ timeout: 15_000 });
    await expect.poll(() => charge.locator('td.error-text').textContent(), { timeout: 15_000 }).not.toBe('');
    expect(await page.locator('#events tbody tr[data-type="order.created"]').count()).toBe(1);
    await page.locator('#order').screenshot({ path: `${screenshots}console-order.png` });
    await Promise.all([page.waitForURL(/\/admin\/queues\/queue\/payments\//), charge.locator('a.board-link').click()]);
    await page.getByText(`${orders.stuck}.payment.charge`).first().waitFor({ timeout: 15_000 });
  });

  it('shows the audit entry a force-cancel leaves, on the order and on the audit page', async () => {
    await page.goto(`${engine.url}/admin/machine?order=${orders.stuck}`);
    await page.locator('#force-cancel:enabled').waitFor({ timeout: 10_000 });
    await page.click('#force-cancel');
    await page.locator('#order-status', { hasText: 'cancelled (cancelled)' }).waitFor({ timeout: 30_000 });
    const entry = page.locator('#order-audit tbody tr[data-action="order.force_cancel"]');
    await entry.waitFor({ timeout: 10_000 });
    expect(await entry.getAttribute('data-outcome')).toBe('ok');
    expect(await entry.locator('td').nth(1).textContent()).toBe('ops-admin (admin)');
    await page.goto(`${engine.url}/admin/audit?action=order.force_cancel`);
    const row = page.locator('#audit tbody tr');
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    expect(await row.locator(`a[href$="${orders.stuck}"]`).count()).toBe(1);
    await page.goto(`${engine.url}/admin/audit`);
    await expect.poll(() => row.count()).toBe(2);
    expect(await row.nth(1).getAttribute('data-action')).toBe('session.login');
    await page.screenshot({ path: `${screenshots}console-audit.png`, fullPage: true });
  });

  it('lets a viewer see every page and refuses their action', async () => {
    const { page: viewer } = await browser.newPage();
    await logIn(viewer, engine, 'ops-viewer', 'viewer');
    expect(await viewer.locator('#signed-in').textContent()).toContain('viewer');
    await viewer.goto(`${engine.url}/admin/machine?order=${orders.other}`);
    await viewer.locator('#order-facts dd[data-fact="user"]').waitFor({ timeout: 10_000 });
    expect(await viewer.locator('#force-cancel').isDisabled()).toBe(true);
    const refused = await viewer.evaluate(async (id) => {
      const res = await fetch(`/api/v1/admin/orders/${id}/cancel`, { method: 'POST' });
      return { status: res.status, body: (await res.json()) as { error: { code: string } } };
    }, orders.other);
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'admin_required' } } });
    expect((await readOrder(engine.core.pool, orders.other))?.state).toBe('charging');
    await viewer.goto(`${engine.url}/admin/queues`);
    await viewer.getByRole('link', { name: 'payments', exact: true }).first().waitFor({ timeout: 15_000 });
    await viewer.goto(`${engine.url}/admin/orders`);
    await expect.poll(() => viewer.locator('#orders tbody tr').count(), { timeout: 10_000 }).toBe(5);
  });

  it('asked nothing of any host but 127.0.0.1, and logged no error', () => {
    expect(browser.leftLocalhost).toEqual([]);
    expect(browser.consoleErrors).toEqual([]);
  });
});

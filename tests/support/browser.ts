// Debian's chromium driven by playwright-core, for the admin pages' browser tests, with the offline
// guard: every request that leaves 127.0.0.1 is refused and recorded, and every console error is
// recorded too (a Content-Security-Policy refusal among them), so a test can demand none of either.
// A missing browser fails the file with the command to install it; it never skips.
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { signToken } from '../../src/platform/auth.ts';
import type { TestEngine } from './engine.ts';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Test artifacts by default (git-ignored); SCREENSHOTS_DIR=docs/screenshots refreshes the README's.
const root = new URL('../../', import.meta.url).pathname;
export const screenshots = `${resolve(root, process.env.SCREENSHOTS_DIR ?? 'test-results/screenshots')}/`;

export interface OfflineBrowser {
  browser: Browser;
  /** Requests refused because they left 127.0.0.1. */
  leftLocalhost: string[];
  /** Console errors of every page, with their page's URL. */
  consoleErrors: string[];
  /** A new context behind the guard, with a page that accepts every dialog. */
  newPage(): Promise<{ context: BrowserContext; page: Page }>;
  close(): Promise<void>;
}

export async function launchOfflineBrowser(): Promise<OfflineBrowser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`chromium is missing at ${chromiumPath}: run apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  mkdirSync(screenshots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
  const leftLocalhost: string[] = [];
  const consoleErrors: string[] = [];
  return {
    browser,
    leftLocalhost,
    consoleErrors,
    async newPage() {
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      await context.route('**/*', (route) => {
        const { hostname } = new URL(route.request().url());
        if (hostname === '127.0.0.1') return route.continue();
        leftLocalhost.push(route.request().url());
        return route.abort('blockedbyclient');
      });
      const page = await context.newPage();
      page.on('dialog', (dialog) => void dialog.accept());
      page.on('console', (message) => {
        // A 400 the page shows (a bad filter), a 401 that sends it to the login form and a refused
        // action's 403 are the pages working as meant; any other error is a defect.
        if (message.type() === 'error' && !/status of 40[013] /.test(message.text()))
          consoleErrors.push(`${page.url()}: ${message.text()}`);
      });
      return { context, page };
    },
    close: () => browser.close(),
  };
}

/** Logs `on` in to the console as an operator, through the login form, and waits for the landing page. */
export async function logIn(on: Page, engine: TestEngine, userId: string, role: 'admin' | 'viewer'): Promise<void> {
  const token = await signToken(engine.core.config, { userId, role, ttlSeconds: 600 });
  await on.goto(`${engine.url}/admin/login`);
  await on.fill('#token', token);
  await Promise.all([on.waitForURL(`${engine.url}/admin`), on.click('button[type=submit]')]);
}

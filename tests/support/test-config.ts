// The configuration tests run with: the _test database, quiet logs, fast timers.
import { loadConfig, type Config } from '../../src/platform/config.ts';

export function testDatabaseUrl(): string {
  const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/order_engine';
  const url = new URL(base);
  if (!url.pathname.endsWith('_test')) url.pathname = `${url.pathname}_test`;
  return url.toString();
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    ...process.env,
    DATABASE_URL: testDatabaseUrl(),
    LOG_LEVEL: 'silent',
    QUEUE_BACKOFF_MS: '50',
    QUEUE_STALLED_INTERVAL_MS: '5000',
    QUEUE_LOCK_DURATION_MS: '10000',
    OUTBOX_SWEEP_INTERVAL_MS: '200',
    OUTBOX_SWEEP_AGE_MS: '500',
    PAYMENT_SIM_LATENCY_MS_MIN: '0',
    PAYMENT_SIM_LATENCY_MS_MAX: '2',
    // Tests place many orders with one token; the rate-limit tests set their own limits.
    RATE_LIMIT_IP_MAX: '10000000',
    RATE_LIMIT_ORDERS_MAX: '10000000',
    RATE_LIMIT_API_MAX: '10000000',
    ...overrides,
  });
}

// What a run needs before its first order: the database (created and migrated when missing), the
// topic, a free port for the API, fresh products and coupons of its own, and an admin token.
import { createServer } from 'node:net';
import pg from 'pg';
import { createCoupon } from '../../src/coupons/coupons.create.ts';
import { upsertProduct } from '../../src/inventory/inventory.sql.ts';
import { ensureTopic } from '../../src/local-infra/kafka.local.ts';
import { signToken } from '../../src/platform/auth.ts';
import type { Config } from '../../src/platform/config.ts';
import { migrate } from '../../src/platform/migrate.ts';
import type { Pool } from '../../src/platform/db.ts';

export interface Fixtures {
  /** Tags every user id, product and coupon of this run, so its orders can be found in a shared database. */
  tag: string;
  productIds: string[];
  couponCodes: { plenty: string; few: string };
}

export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  const admin = new pg.Client({ connectionString: Object.assign(new URL(url), { pathname: '/postgres' }).toString() });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
  } finally {
    await admin.end();
  }
}

export async function prepareStores(config: Config, pool: Pool): Promise<void> {
  await migrate(pool);
  await ensureTopic(config.KAFKA_TOPIC_ORDER_EVENTS, 6, config.KAFKA_BROKERS);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function runTag(): string {
  return `r${Date.now().toString(36)}`;
}

/** Product 0 is scarce (its buyers meet out_of_stock); the others have plenty. */
export async function createFixtures(pool: Pool, tag: string, scarceStock: number): Promise<Fixtures> {
  const prices = ['19.99', '7.25', '42.00', '3.10'];
  const productIds = prices.map((_, i) => `chaos-${tag}-${i}`);
  for (const [i, id] of productIds.entries()) {
    const stock = i === 0 ? scarceStock : 100_000;
    await upsertProduct(pool, { id, name: `chaos product ${i} of ${tag}`, price: prices[i]!, currency: 'USD', stock });
  }
  const upper = tag.toUpperCase();
  const couponCodes = { plenty: `${upper}-PCT`, few: `${upper}-ONCE` };
  const made = [
    await createCoupon(pool, { code: couponCodes.plenty, kind: 'percent', percentOff: '10', redemptionsMax: 100_000 }),
    await createCoupon(pool, {
      code: couponCodes.few,
      kind: 'fixed',
      amountOff: '1.00',
      currency: 'USD',
      redemptionsMax: 3,
    }),
  ];
  for (const result of made) if (!result.ok) throw new Error(`chaos: coupon refused: ${JSON.stringify(result.error)}`);
  return { tag, productIds, couponCodes };
}

/** An admin token for the API: the API may or may not ask for one; sending it works either way. */
export function adminToken(config: Config): Promise<string> {
  return signToken(config, { userId: 'chaos-runner', role: 'admin', ttlSeconds: 6 * 3_600 });
}

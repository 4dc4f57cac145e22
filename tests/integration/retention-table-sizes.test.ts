// Bytes per order before and after retention (src/retention/table-sizes.sql.ts), measured on a
// schema of its own, so that no other file's rows or freed space blur the growth: what the orders
// wrote, and what of it no retention rule will ever delete.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntilFinal } from '../../chaos/invariants.ts';
import { createPool, type Pool } from '../../src/platform/db.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { bytesPerOrder, tableSizes, type TableSize } from '../../src/retention/table-sizes.sql.ts';
import { address, freshProduct, postJson, startTestEngine, type TestEngine } from '../support/engine.ts';
import { testDatabaseUrl } from '../support/test-config.ts';

const schema = `sizes_${randomUUID().slice(0, 8)}`;
const orderCount = 30;
let admin: Pool;
let pool: Pool;
let engine: TestEngine;

beforeAll(async () => {
  admin = createPool({ connectionString: testDatabaseUrl(), poolSizeMax: 1, statementTimeoutMs: 60_000 });
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(testDatabaseUrl());
  url.searchParams.set('options', `-c search_path=${schema}`);
  pool = createPool({ connectionString: url.toString(), poolSizeMax: 2, statementTimeoutMs: 60_000 });
  await migrate(pool);
  engine = await startTestEngine({ DATABASE_URL: url.toString() });
});
afterAll(async () => {
  await engine?.close();
  await pool?.end();
  await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin?.end();
});

const of = (sizes: TableSize[], table: string) => sizes.find((s) => s.table === table)!;

describe('bytes per order', () => {
  it('counts what orders write, and keeps only what no retention rule deletes', async () => {
    const product = await freshProduct(engine.core, 1_000);
    const start = await tableSizes(pool);
    expect(start.map((s) => s.table)).toEqual(expect.arrayContaining(['orders', 'inbox', 'outbox', 'ledger_entries']));
    expect(start.map((s) => s.table)).not.toContain('schema_migrations');
    const placed = await Promise.all(
      Array.from({ length: orderCount }, (_, n) =>
        postJson(
          `${engine.url}/api/v1/orders`,
          {
            user_id: `sizes-${n}`,
            currency: 'USD',
            shipping_address: address,
            items: [{ product_id: product, quantity: 1 }],
          },
          { 'Idempotency-Key': `sizes-${schema}-${n}` },
        ),
      ),
    );
    const ids = placed.map((p) => p.body.id as string);
    expect(await waitUntilFinal(engine.core.pool, ids, 30_000)).toEqual([]);

    const end = await tableSizes(pool);
    expect(of(end, 'orders')).toMatchObject({ rows: orderCount, keptRows: orderCount });
    expect(of(end, 'idempotency_keys')).toMatchObject({ rows: orderCount, keptRows: 0, keptBytes: 0 });
    expect(of(end, 'inbox').rows).toBeGreaterThanOrEqual(8 * orderCount);
    expect(of(end, 'inbox').keptRows).toBe(0);
    // No relay runs here: the Kafka rows are not published, so the outbox keeps them, and only them.
    const kafkaRows = await pool.query(`SELECT 1 FROM outbox WHERE destination LIKE 'kafka:%'`);
    expect(of(end, 'outbox').keptRows).toBe(kafkaRows.rowCount);

    const measured = bytesPerOrder(start, end, orderCount);
    const table = (name: string) => measured.byTable.find((t) => t.table === name)!;
    expect(measured.before).toBeGreaterThan(measured.after);
    expect(measured.after).toBeGreaterThan(0);
    expect(table('orders').after).toBe(table('orders').before);
    expect(table('orders').before).toBeGreaterThan(0);
    expect(table('inbox').before).toBeGreaterThan(0);
    expect(table('inbox').after).toBe(0);
    expect(table('idempotency_keys').after).toBe(0);

    // Once published, the Kafka rows go in time too; a dead letter keeps its message's inbox row.
    await pool.query(`UPDATE outbox SET dispatched_at = now() WHERE destination LIKE 'kafka:%'`);
    await pool.query(
      `INSERT INTO dead_letters (queue, job_id, message_id, data, error, attempts)
       VALUES ('inventory', $1, $1, '{}', 'test', 1)`,
      [`${ids[0]}.inventory.reserve`],
    );
    const published = await tableSizes(pool);
    expect(of(published, 'outbox').keptRows).toBe(0);
    expect(of(published, 'inbox').keptRows).toBe(1);
    expect(bytesPerOrder(start, published, orderCount).after).toBeLessThan(measured.after);
  });

  it('refuses to divide by no order', () => {
    expect(() => bytesPerOrder([], [], 0)).toThrow(/at least one order/);
  });
});

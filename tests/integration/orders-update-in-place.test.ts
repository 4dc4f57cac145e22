// An order row is updated on every step, so no index may name a column the step's save changes on
// every step: PostgreSQL makes an update HOT (no index entry written, in any index) only when no
// indexed column changes, and a partial index's predicate counts as well as its key. Migration 016
// built the orders table for this (73% of order updates HOT in a bench run); migration 018's first
// draft indexed updated_at, which would have made none HOT. `status` is indexed on purpose: it
// changes a few times in an order's life, not on every step.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/platform/db.ts';
import { testDatabaseUrl } from '../support/test-config.ts';

/** What the order step's save (order.sql.ts, saveBatch) writes on every step, status aside. */
const changedByEveryStep = [
  'state',
  'snapshot',
  'version',
  'machine_version',
  'discount',
  'total',
  'failure_reason',
  'updated_at',
  'finalized_at',
];

let pool: Pool;

beforeAll(() => {
  pool = createPool({ connectionString: testDatabaseUrl(), poolSizeMax: 1, statementTimeoutMs: 10_000 });
});

afterAll(async () => {
  await pool?.end();
});

describe('the orders table', () => {
  it('indexes no column the step changes on every save, in a key or a predicate', async () => {
    const indexed = await pool.query<{ index: string; column: string }>(
      `SELECT DISTINCT c.relname AS index, a.attname AS column
         FROM pg_index i
         JOIN pg_class c ON c.oid = i.indexrelid
         JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
                         AND d.refobjid = i.indrelid AND d.refobjsubid > 0
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = d.refobjsubid
        WHERE i.indrelid = 'orders'::regclass
        ORDER BY 1, 2`,
    );
    // The query sees every index's columns: status is in orders_in_flight's key and predicate.
    expect(indexed.rows).toContainEqual({ index: 'orders_in_flight', column: 'status' });
    expect(indexed.rows.filter((r) => changedByEveryStep.includes(r.column))).toEqual([]);
  });
});

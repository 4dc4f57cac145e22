// The workers' start check reads the orders they will step again, not the final ones: a final order
// is never stepped again, so a snapshot of it that no longer restores must not stop every worker
// (the bench's one-transaction baseline writes confirmed orders with an empty snapshot, and the
// per-role engine refused to start on them). `npm run machine -- check` still lists such an order.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployedOrderMachine } from '../../machines/migrations/index.ts';
import { createPool, type Pool } from '../../src/platform/db.ts';
import {
  assertEveryOrderHasPath,
  checkMachine,
  MachineCheckFailedError,
  unfinishedStatuses,
} from '../../src/orders/machine-check.ts';
import { freshDatabase } from '../support/database.ts';

let pool: Pool;

/** An order row written straight into the table, as the bench baseline writes one. */
async function insertOrder(status: string, state: string, snapshot: unknown): Promise<string> {
  const id = randomUUID();
  await pool.query(
    `INSERT INTO orders (id, user_id, currency, status, state, snapshot, version, items, subtotal, total,
                         shipping_address, correlation_id)
     VALUES ($1, 'scope', 'USD', $2, $3, $4, 1, '[{"product_id":"p","quantity":1}]', '1.00', '1.00', '{}', $5)`,
    [id, status, state, JSON.stringify(snapshot), id],
  );
  return id;
}

beforeAll(async () => {
  pool = createPool({
    connectionString: await freshDatabase('machine_scope'),
    poolSizeMax: 2,
    statementTimeoutMs: 10_000,
  });
});

afterAll(async () => {
  await pool?.end();
});

describe('the machine check at the workers start', () => {
  it('reads every status but the final ones', () => {
    expect([...unfinishedStatuses].sort()).toEqual(['cancelling', 'needs_attention', 'pending']);
  });

  it('lets a final order that no longer restores pass, and the full check names it', async () => {
    const broken = await insertOrder('confirmed', 'confirmed', {});
    await expect(assertEveryOrderHasPath(pool, deployedOrderMachine)).resolves.toMatchObject({ strandedOrders: 0 });
    const every = await checkMachine(pool, deployedOrderMachine);
    expect(every.strandedOrders).toBe(1);
    expect(every.occupied).toEqual([expect.objectContaining({ state: 'confirmed', target: null, stranded: [broken] })]);
  });

  it('refuses an unfinished order that no longer restores, naming it', async () => {
    const stranded = await insertOrder('pending', 'charging', {});
    const refused = assertEveryOrderHasPath(pool, deployedOrderMachine);
    await expect(refused).rejects.toThrow(MachineCheckFailedError);
    await expect(refused).rejects.toThrow(stranded);
  });
});

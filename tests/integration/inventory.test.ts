// Inventory's statements on the real database: a reservation is all or nothing per order, a second
// one for the order changes nothing, a release that came first leaves a tombstone the late
// reservation obeys, and commits of a whole batch move exactly the held units.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitAll, release, reserve, stockOf } from '../../src/inventory/inventory.sql.ts';
import type { CoreDeps } from '../../src/main/core-deps.ts';
import { withTransaction } from '../../src/platform/db.ts';
import { freshProduct } from '../support/engine.ts';
import { createTestDeps } from '../support/harness.ts';

let core: CoreDeps;
beforeAll(() => {
  core = createTestDeps();
});
afterAll(async () => {
  await core?.close();
});

const inTransaction = <T>(fn: Parameters<typeof withTransaction<T>>[1]) => withTransaction(core.pool, fn);
const groupOf = async (orderId: string) =>
  (await core.pool.query(`SELECT status FROM reservation_groups WHERE order_id = $1`, [orderId])).rows[0]?.status;

describe('reserve', () => {
  it('holds every line or none: a short line refuses the order and moves no stock', async () => {
    const [a, b] = [await freshProduct(core, 5), await freshProduct(core, 1)];
    const orderId = randomUUID();
    const result = await inTransaction((client) =>
      reserve(
        client,
        orderId,
        [
          { product_id: a, quantity: 2 },
          { product_id: b, quantity: 2 },
        ],
        60_000,
      ),
    );
    expect(result).toEqual({ kind: 'out_of_stock', productId: b });
    expect(await groupOf(orderId)).toBe('refused');
    expect(await stockOf(core.pool, [a, b])).toEqual(
      [
        { product_id: a, on_hand: 5, available: 5, held: 0, sold: 0 },
        { product_id: b, on_hand: 1, available: 1, held: 0, sold: 0 },
      ].sort((x, y) => (x.product_id < y.product_id ? -1 : 1)),
    );
  });

  it('names an unknown product, and holds the units of a good order once however often it is asked', async () => {
    const product = await freshProduct(core, 10);
    const unknown = await inTransaction((client) =>
      reserve(client, randomUUID(), [{ product_id: 'no-such-product', quantity: 1 }], 60_000),
    );
    expect(unknown).toEqual({ kind: 'unknown_product', productId: 'no-such-product' });
    const orderId = randomUUID();
    const lines = [
      { product_id: product, quantity: 2 },
      { product_id: product, quantity: 1 },
    ];
    const first = await inTransaction((client) => reserve(client, orderId, lines, 60_000));
    expect(first.kind).toBe('reserved');
    const again = await inTransaction((client) => reserve(client, orderId, lines, 60_000));
    expect(again).toMatchObject({ kind: 'already', status: 'held' });
    expect(await stockOf(core.pool, [product])).toEqual([
      { product_id: product, on_hand: 10, available: 7, held: 3, sold: 0 },
    ]);
  });

  it('obeys a release that came first: the late reservation finds the tombstone and holds nothing', async () => {
    const product = await freshProduct(core, 3);
    const orderId = randomUUID();
    await inTransaction((client) => release(client, orderId));
    const late = await inTransaction((client) =>
      reserve(client, orderId, [{ product_id: product, quantity: 1 }], 60_000),
    );
    expect(late).toMatchObject({ kind: 'already', status: 'released' });
    expect(await stockOf(core.pool, [product])).toEqual([
      { product_id: product, on_hand: 3, available: 3, held: 0, sold: 0 },
    ]);
  });
});

describe('commitAll', () => {
  it('commits the held units of a whole batch, once, and reports a released order as released', async () => {
    const product = await freshProduct(core, 10);
    const [one, two, gone] = [randomUUID(), randomUUID(), randomUUID()];
    for (const orderId of [one, two, gone]) {
      await inTransaction((client) => reserve(client, orderId, [{ product_id: product, quantity: 2 }], 60_000));
    }
    await inTransaction((client) => release(client, gone));
    const statuses = await inTransaction((client) => commitAll(client, [one, two, gone]));
    expect(Object.fromEntries(statuses)).toEqual({ [one]: 'committed', [two]: 'committed', [gone]: 'released' });
    const again = await inTransaction((client) => commitAll(client, [one]));
    expect(again.get(one)).toBe('committed');
    expect(await stockOf(core.pool, [product])).toEqual([
      { product_id: product, on_hand: 10, available: 6, held: 0, sold: 4 },
    ]);
  });
});

// What the machine check reads of the orders table: the occupied (machine version, state) pairs,
// one stored snapshot of each, and the ids of the orders in a pair. Reads only; no lock is taken.
import type { Queryable } from '../platform/db.ts';

/**
 * Which orders a check reads: every stored order, or only the ones a worker will step again (not in
 * a final status), as the workers' start needs. Null: every order.
 */
export type StatusScope = readonly string[] | null;

export interface OccupiedRow {
  machine_version: number;
  state: string;
  orders: number;
}

/** Every (machine version, state) that stored orders occupy, with its count of orders. */
export async function occupiedStates(db: Queryable, statuses: StatusScope = null): Promise<OccupiedRow[]> {
  const result = await db.query<OccupiedRow>(
    `SELECT machine_version, state, count(*)::int AS orders
       FROM orders WHERE $1::text[] IS NULL OR status = ANY($1::text[])
      GROUP BY machine_version, state ORDER BY machine_version, state`,
    [statuses],
  );
  return result.rows;
}

/** One stored snapshot of an occupied pair (the migrations are tried on it), or undefined if none is left. */
export async function sampleSnapshot(
  db: Queryable,
  machineVersion: number,
  state: string,
  statuses: StatusScope = null,
): Promise<unknown> {
  const result = await db.query<{ snapshot: unknown }>(
    `SELECT snapshot FROM orders
      WHERE machine_version = $1 AND state = $2 AND ($3::text[] IS NULL OR status = ANY($3::text[])) LIMIT 1`,
    [machineVersion, state, statuses],
  );
  return result.rows[0]?.snapshot;
}

/** Up to `limit` ids of the orders in a pair, oldest first. */
export async function ordersIn(
  db: Queryable,
  machineVersion: number,
  state: string,
  limit: number,
  statuses: StatusScope = null,
): Promise<string[]> {
  const result = await db.query<{ id: string }>(
    `SELECT id::text FROM orders
      WHERE machine_version = $1 AND state = $2 AND ($4::text[] IS NULL OR status = ANY($4::text[]))
      ORDER BY created_at, id LIMIT $3`,
    [machineVersion, state, limit, statuses],
  );
  return result.rows.map((r) => r.id);
}

// What each table costs on disk now, and what of it retention keeps for good: the measure behind
// "bytes per order before and after retention". Before: every row, at the table's real size (heap,
// TOAST and indexes). After: only the rows no retention rule will ever delete (migrations/013), at
// the table's average bytes per row. A business table keeps every row.
import pg from 'pg';
import type { Queryable } from '../platform/db.ts';

export interface TableSize {
  table: string;
  rows: number;
  /** pg_total_relation_size: heap, TOAST and indexes, free space included. */
  bytes: number;
  /** Rows that retention never deletes, whatever time passes. */
  keptRows: number;
  /** bytes × keptRows / rows for a pruned table; all its bytes for a table that keeps every row. */
  keptBytes: number;
}

const undelivered = `CASE WHEN o.destination LIKE 'kafka:%' THEN o.dispatched_at IS NULL ELSE o.processed_at IS NULL END`;

/**
 * For each pruned table, the rows its rule keeps for good: an undelivered outbox row stays, and so
 * does an inbox row whose message an undelivered outbox row or a dead letter can still bring. Every
 * row of notification_inbox and idempotency_keys goes in time. (A job kept in Redis only delays.)
 */
const keptForGood: Record<string, string> = {
  outbox: undelivered.replaceAll('o.', 't.'),
  inbox: `EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = t.message_id AND ${undelivered})
          OR EXISTS (SELECT 1 FROM dead_letters d WHERE d.message_id = t.message_id)`,
  notification_inbox: 'false',
  idempotency_keys: 'false',
};

/** The engine's tables (every base table of the schema but the migrations' own), by name. */
async function engineTables(db: Queryable): Promise<string[]> {
  const result = await db.query<{ name: string }>(
    `SELECT tablename AS name FROM pg_tables
      WHERE schemaname = current_schema() AND tablename <> 'schema_migrations' ORDER BY tablename`,
  );
  return result.rows.map((r) => r.name);
}

/**
 * Counts every row of every engine table: a full scan of each, so for a benchmark or an operator's
 * one-off question, never for a scrape.
 */
export async function tableSizes(db: Queryable): Promise<TableSize[]> {
  const sizes: TableSize[] = [];
  for (const table of await engineTables(db)) {
    const rule = keptForGood[table];
    const kept = rule ?? 'true';
    const result = await db.query<{ rows: string; kept: string; bytes: string }>(
      `SELECT count(*) AS rows, count(*) FILTER (WHERE ${kept}) AS kept,
              pg_total_relation_size($1::regclass) AS bytes
         FROM ${pg.escapeIdentifier(table)} t`,
      [table],
    );
    const row = result.rows[0]!;
    const rows = Number(row.rows);
    const keptRows = Number(row.kept);
    const bytes = Number(row.bytes);
    // A table no rule prunes keeps all its bytes, empty pages and index roots included.
    const keptBytes = rule === undefined ? bytes : rows === 0 ? 0 : Math.round((bytes * keptRows) / rows);
    sizes.push({ table, rows, bytes, keptRows, keptBytes });
  }
  return sizes;
}

export interface BytesPerOrder {
  orders: number;
  /** Bytes the run added, per order, with every row it wrote. */
  before: number;
  /** Bytes the run added for good, per order, once retention has pruned what it may. */
  after: number;
  byTable: Array<{ table: string; before: number; after: number }>;
}

/**
 * Bytes per order between two tableSizes readings taken around a run that placed `orders` orders:
 * the growth of each table, whole (before retention) and kept (after it).
 */
export function bytesPerOrder(start: TableSize[], end: TableSize[], orders: number): BytesPerOrder {
  if (orders <= 0) throw new Error('bytesPerOrder needs at least one order');
  const startOf = new Map(start.map((s) => [s.table, s]));
  const byTable = end.map((e) => {
    const s = startOf.get(e.table);
    return {
      table: e.table,
      before: Math.max(0, e.bytes - (s?.bytes ?? 0)) / orders,
      after: Math.max(0, e.keptBytes - (s?.keptBytes ?? 0)) / orders,
    };
  });
  const sum = (pick: (t: { before: number; after: number }) => number) => byTable.reduce((n, t) => n + pick(t), 0);
  return { orders, before: sum((t) => t.before), after: sum((t) => t.after), byTable };
}

// Migration 015 splits the outbox's dispatched_at by meaning and keeps each row's history: a queue
// row's mark becomes swept_at, a Kafka row's becomes published_at, and from then on a CHECK refuses
// a mark on a row of the other destination.
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/platform/db.ts';
import { migrate, migrationsDir } from '../../src/platform/migrate.ts';
import { freshDatabase } from '../support/database.ts';

let pool: Pool;
let before015: string;

/** The migrations that ran before 015, alone in a folder of their own. */
async function migrationsBefore015(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'migrations-before-015-'));
  for (const file of await readdir(migrationsDir))
    if (/^\d{3}_/.test(file) && file < '015') await cp(path.join(migrationsDir, file), path.join(dir, file));
  return dir;
}

beforeAll(async () => {
  before015 = await migrationsBefore015();
  const url = await freshDatabase('marks', before015);
  pool = createPool({ connectionString: url, poolSizeMax: 2, statementTimeoutMs: 10_000 });
});

afterAll(async () => {
  await pool?.end();
  if (before015) await rm(before015, { recursive: true, force: true });
});

describe('migration 015: one meaning per outbox mark', () => {
  it('moves each row mark to the column of its meaning, and refuses a mark on the other destination', async () => {
    await pool.query(
      `INSERT INTO outbox (message_id, destination, key, type, payload, dispatched_at) VALUES
         ('q-swept', 'queue:inventory', 'k', 'inventory.reserve', '{}', '2026-01-01T00:00:00Z'),
         ('q-fresh', 'queue:inventory', 'k', 'inventory.reserve', '{}', NULL),
         ('k-published', 'kafka:order-events', 'k', 'order.created', '{}', '2026-01-02T00:00:00Z'),
         ('k-waiting', 'kafka:order-events', 'k', 'order.confirmed', '{}', NULL)`,
    );
    expect((await migrate(pool)).applied).toContain('015_outbox_one_meaning_per_mark.sql');

    const rows = await pool.query<{ message_id: string; swept_at: Date | null; published_at: Date | null }>(
      `SELECT message_id, swept_at, published_at FROM outbox ORDER BY message_id`,
    );
    expect(
      rows.rows.map((r) => [r.message_id, r.swept_at?.toISOString() ?? null, r.published_at?.toISOString() ?? null]),
    ).toEqual([
      ['k-published', null, '2026-01-02T00:00:00.000Z'],
      ['k-waiting', null, null],
      ['q-fresh', null, null],
      ['q-swept', '2026-01-01T00:00:00.000Z', null],
    ]);
    const columns = await pool.query(
      `SELECT 1 FROM information_schema.columns WHERE table_name = 'outbox' AND column_name = 'dispatched_at'`,
    );
    expect(columns.rowCount).toBe(0);

    await expect(pool.query(`UPDATE outbox SET published_at = now() WHERE message_id = 'q-fresh'`)).rejects.toThrow(
      /outbox_published_only_kafka/,
    );
    await expect(pool.query(`UPDATE outbox SET swept_at = now() WHERE message_id = 'k-waiting'`)).rejects.toThrow(
      /outbox_swept_only_queue/,
    );
  });
});

// A database of the tests' own: created when missing and rebuilt from the migrations, so a test
// that counts (the fleet, an unfiltered list) sees only what it made. The global setup uses it
// for the shared _test database; a file that needs exact counts makes `<test db>_<suffix>`.
import pg from 'pg';
import { createPool } from '../../src/platform/db.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { testDatabaseUrl } from './test-config.ts';

/** Creates the database of `url` if missing, then empties its schema and migrates it. */
export async function rebuildDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const admin = new pg.Client({
    connectionString: Object.assign(new URL(target), { pathname: '/postgres' }).toString(),
  });
  await admin.connect();
  try {
    const name = target.pathname.slice(1);
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const pool = createPool({ connectionString: target.toString(), poolSizeMax: 2, statementTimeoutMs: 60_000 });
  try {
    await pool.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
    await migrate(pool);
  } finally {
    await pool.end();
  }
}

/** A fresh, migrated database beside the test database, named `<test db>_<suffix>`; returns its URL. */
export async function freshDatabase(suffix: string): Promise<string> {
  const url = new URL(testDatabaseUrl());
  url.pathname = `${url.pathname}_${suffix}`;
  await rebuildDatabase(url.toString());
  return url.toString();
}

// Runs once before the suite: checks that every server answers (and fails, naming the one that
// does not, rather than skipping), then rebuilds the test database's schema from the migrations.
import pg from 'pg';
import { isPortOpen } from '../../src/local-infra/wait.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { createPool } from '../../src/platform/db.ts';
import { testConfig, testDatabaseUrl } from './test-config.ts';

export default async function setup(): Promise<void> {
  const config = testConfig();
  const servers: Array<[string, string, number]> = [
    ['PostgreSQL', new URL(config.DATABASE_URL).hostname, Number(new URL(config.DATABASE_URL).port || 5432)],
    ...config.REDLOCK_NODES.map((u): [string, string, number] => [
      `Redis ${u}`,
      new URL(u).hostname,
      Number(new URL(u).port),
    ]),
    ...config.KAFKA_BROKERS.map((b): [string, string, number] => [
      `Kafka ${b}`,
      b.split(':')[0]!,
      Number(b.split(':')[1]),
    ]),
  ];
  const missing: string[] = [];
  for (const [name, host, port] of servers)
    if (!(await isPortOpen(host, port, 2_000))) missing.push(`${name} (${host}:${port})`);
  if (missing.length > 0) {
    throw new Error(`tests need real servers; not answering: ${missing.join(', ')}. Run \`npm run services:up\`.`);
  }

  const url = new URL(testDatabaseUrl());
  const admin = new pg.Client({ connectionString: Object.assign(new URL(url), { pathname: '/postgres' }).toString() });
  await admin.connect();
  const name = url.pathname.slice(1);
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();

  const pool = createPool({ connectionString: url.toString(), poolSizeMax: 2, statementTimeoutMs: 60_000 });
  await pool.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  await migrate(pool);
  await pool.end();
}

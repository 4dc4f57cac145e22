// PostgreSQL: reuse the server that answers, else start the machine's own cluster; then make sure the
// engine's database and its test twin exist. We never stop PostgreSQL: it belongs to the machine.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { commandOutputOf, runCommand } from './process.local.ts';
import { isLoopbackHost, ServiceError, type Progress, type ServiceStatus, type StartResult } from './service-result.ts';
import { waitUntil } from './wait.ts';

const connectTimeoutMs = 2_000;
const clusterStartTimeoutMs = 60_000;
const readyTimeoutMs = 30_000;
const clustersDir = '/etc/postgresql';

export interface PostgresTarget {
  host: string;
  port: number;
  address: string;
  /** DATABASE_URL with the database swapped for `postgres`, which exists on every server. */
  maintenanceUrl: string;
  database: string;
  testDatabase: string;
}

export function postgresTarget(databaseUrl: string): PostgresTarget {
  const url = new URL(databaseUrl);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (database === '') throw new ServiceError('postgres', 'DATABASE_URL names no database');
  const port = url.port === '' ? 5432 : Number(url.port);
  const maintenance = new URL(databaseUrl);
  maintenance.pathname = '/postgres';
  return {
    host: url.hostname,
    port,
    address: `${url.hostname}:${port}`,
    maintenanceUrl: maintenance.toString(),
    database,
    testDatabase: `${database}_test`,
  };
}

async function withClient<T>(target: PostgresTarget, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: target.maintenanceUrl, connectionTimeoutMillis: connectTimeoutMs });
  // An error after connect (server shut down under us) must not crash the process; the query rejects instead.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function isPostgresUp(target: PostgresTarget): Promise<boolean> {
  try {
    return await withClient(target, async (client) => (await client.query('SELECT 1')).rowCount === 1);
  } catch {
    return false;
  }
}

/** Reuses a server that answers; otherwise starts the first cluster under /etc/postgresql and waits for it. */
export async function ensurePostgresRunning(target: PostgresTarget, onProgress?: Progress): Promise<StartResult> {
  if (await isPostgresUp(target)) return { action: 'reused', detail: 'already running' };
  const service = `postgres ${target.address}`;
  if (!isLoopbackHost(target.host)) {
    throw new ServiceError(service, 'does not answer, and it is not on this machine');
  }
  const version = existsSync(clustersDir) ? readdirSync(clustersDir).sort()[0] : undefined;
  if (version === undefined || !existsSync(join(clustersDir, version, 'main'))) {
    throw new ServiceError(
      service,
      `does not answer, and no cluster exists under ${clustersDir}/<version>/main; ` +
        'install the postgresql package or point DATABASE_URL at a running server',
    );
  }
  try {
    await runCommand('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], {
      timeoutMs: clusterStartTimeoutMs,
    });
  } catch (error) {
    throw new ServiceError(
      service,
      `starting cluster ${version}/main: ${(error as Error).message}`,
      commandOutputOf(error),
    );
  }
  await waitUntil(() => isPostgresUp(target), {
    description: 'waiting for connections',
    timeoutMs: readyTimeoutMs,
    intervalMs: 250,
    ...(onProgress === undefined ? {} : { onProgress: (line: string) => onProgress(`${service}: ${line}`) }),
  }).catch((error: unknown) => {
    throw new ServiceError(service, `cluster ${version}/main started but ${(error as Error).message}`);
  });
  return { action: 'started', detail: `cluster ${version}/main` };
}

/** Creates the engine's database and `<name>_test` when missing; reports which were created. */
export async function ensureDatabases(target: PostgresTarget): Promise<{ created: string[]; existing: string[] }> {
  const created: string[] = [];
  const existing: string[] = [];
  await withClient(target, async (client) => {
    for (const name of [target.database, target.testDatabase]) {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (found.rowCount === 1) {
        existing.push(name);
        continue;
      }
      try {
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
        created.push(name);
      } catch (error) {
        // 42P04 duplicate_database: a concurrent `services:up` created it between our check and our create.
        if ((error as { code?: string }).code !== '42P04') throw error;
        existing.push(name);
      }
    }
  });
  return { created, existing };
}

export async function postgresStatus(target: PostgresTarget): Promise<ServiceStatus> {
  const base = { service: 'postgres', address: target.address, ours: false };
  try {
    const names = await withClient(target, async (client) => {
      const result = await client.query<{ datname: string }>(
        'SELECT datname FROM pg_database WHERE datname = ANY($1)',
        [[target.database, target.testDatabase]],
      );
      return new Set(result.rows.map((row) => row.datname));
    });
    const missing = [target.database, target.testDatabase].filter((name) => !names.has(name));
    const detail = missing.length === 0 ? 'databases present' : `missing database ${missing.join(', ')}`;
    return { ...base, up: true, detail };
  } catch {
    return { ...base, up: false };
  }
}

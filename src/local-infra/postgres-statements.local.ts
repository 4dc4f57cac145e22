// pg_stat_statements on the local PostgreSQL, for the bench's statements per order. The library
// loads only at server start: when it is missing, services:up adds it to shared_preload_libraries
// and restarts the machine's cluster once (a few seconds; later runs find it loaded). A server that
// is not on this machine, or not restartable here, is left alone: the bench then says the count
// is absent.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { commandOutputOf, runCommand } from './process.local.ts';
import { isPostgresUp, type PostgresTarget } from './postgres.local.ts';
import { isLoopbackHost, ServiceError, type Progress } from './service-result.ts';
import { waitUntil } from './wait.ts';

const library = 'pg_stat_statements';
const clustersDir = '/etc/postgresql';
const restartTimeoutMs = 60_000;

async function query<T extends pg.QueryResultRow>(target: PostgresTarget, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: target.maintenanceUrl, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

async function preloaded(target: PostgresTarget): Promise<string[]> {
  const [row] = await query<{ shared_preload_libraries: string }>(target, 'SHOW shared_preload_libraries');
  return (row?.shared_preload_libraries ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

/** Whether the server counts statements (library loaded and the view installed). */
export async function statementStatsOf(target: PostgresTarget): Promise<'loaded' | 'not loaded'> {
  return (await preloaded(target)).includes(library) ? 'loaded' : 'not loaded';
}

/** Loads pg_stat_statements (restarting the local cluster once if needed) and installs its view. */
export async function ensureStatementStats(target: PostgresTarget, onProgress?: Progress): Promise<string> {
  const libraries = await preloaded(target);
  let action = 'already loaded';
  if (!libraries.includes(library)) {
    const version = existsSync(clustersDir) ? readdirSync(clustersDir).sort()[0] : undefined;
    if (!isLoopbackHost(target.host) || version === undefined || !existsSync(join(clustersDir, version, 'main'))) {
      return `not loaded (a server this machine cannot restart); the bench counts no statements`;
    }
    const value = [...libraries, library].join(',');
    await query(target, `ALTER SYSTEM SET shared_preload_libraries = ${pg.escapeLiteral(value)}`);
    onProgress?.(`postgres: restarting cluster ${version}/main once to load ${library}`);
    try {
      await runCommand('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart'], {
        timeoutMs: restartTimeoutMs,
      });
    } catch (error) {
      throw new ServiceError(
        'postgres statements',
        `restarting ${version}/main: ${(error as Error).message}`,
        commandOutputOf(error),
      );
    }
    await waitUntil(() => isPostgresUp(target), {
      description: 'waiting for connections',
      timeoutMs: restartTimeoutMs,
      intervalMs: 250,
    });
    action = `loaded (cluster ${version}/main restarted once)`;
  }
  await query(target, `CREATE EXTENSION IF NOT EXISTS ${library}`);
  return action;
}

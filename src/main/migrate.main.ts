// Entry point: apply pending migrations to DATABASE_URL (and to its _test twin with --test).
// A server that is not up yet (a machine booting, a restart) is waited for, within a bound, so a
// supervisor that starts migrations with the engine does not fail on a race.
import { loadConfigOrExit } from '../platform/config.ts';
import { createPool, isConnectionError, sleep } from '../platform/db.ts';
import { migrate, type MigrationResult } from '../platform/migrate.ts';
import { errorText } from '../platform/outage.ts';
import { guardProcess } from './process-guard.ts';
import { createLogger } from '../platform/logger.ts';

const waitForServerMsMax = 60_000;

async function migrateWhenReachable(pool: ReturnType<typeof createPool>): Promise<MigrationResult> {
  const deadline = Date.now() + waitForServerMsMax;
  for (let retryMs = 250; ; retryMs = Math.min(retryMs * 2, 5_000)) {
    try {
      return await migrate(pool);
    } catch (error) {
      if (!isConnectionError(error) || Date.now() + retryMs > deadline) throw error;
      console.error(`migrate: PostgreSQL unreachable (${errorText(error)}); retrying in ${retryMs} ms`);
      await sleep(retryMs);
    }
  }
}

const config = loadConfigOrExit();
guardProcess(createLogger(config.LOG_LEVEL, 'migrate'));
const pool = createPool({ connectionString: config.DATABASE_URL, poolSizeMax: 2, statementTimeoutMs: 120_000 });
try {
  const started = Date.now();
  const result = await migrateWhenReachable(pool);
  for (const file of result.applied) console.log(`migrate: applied ${file}`);
  console.log(
    `migrate: ${result.applied.length} applied, ${result.skipped.length} already applied (${Date.now() - started} ms)`,
  );
} catch (error) {
  console.error(`migrate: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await pool.end();
}

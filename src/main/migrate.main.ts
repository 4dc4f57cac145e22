// Entry point: apply pending migrations to DATABASE_URL (and to its _test twin with --test).
import { loadConfigOrExit } from '../platform/config.ts';
import { createPool } from '../platform/db.ts';
import { migrate } from '../platform/migrate.ts';

const config = loadConfigOrExit();
const pool = createPool({ connectionString: config.DATABASE_URL, poolSizeMax: 2, statementTimeoutMs: 120_000 });
try {
  const started = Date.now();
  const result = await migrate(pool);
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

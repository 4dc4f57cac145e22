// Operator command for parked outbox rows: `npm run outbox -- parked` lists them;
// `npm run outbox -- replay <id> [<id>...]` or `replay --all` puts them back in line.
import { loadConfigOrExit } from '../platform/config.ts';
import { createPool } from '../platform/db.ts';
import { listParked, replayParked } from '../outbox/relay.sql.ts';

const usage = 'usage: npm run outbox -- parked | replay <id>... | replay --all';
const [verb, ...args] = process.argv.slice(2);
const config = loadConfigOrExit();
const pool = createPool({ connectionString: config.DATABASE_URL, poolSizeMax: 1, statementTimeoutMs: 30_000 });
try {
  if (verb === 'parked') {
    const rows = await listParked(pool);
    for (const r of rows) {
      console.log(
        `${r.id}\t${r.type}\t${r.destination}\tkey=${r.key}\tattempts=${r.attempts}\t${r.parked_at.toISOString()}\t${r.last_error ?? ''}`,
      );
    }
    console.log(`${rows.length} parked row(s)`);
  } else if (verb === 'replay' && (args[0] === '--all' || (args.length > 0 && args.every((a) => /^\d+$/.test(a))))) {
    const replayed = await replayParked(pool, args[0] === '--all' ? [] : args);
    console.log(`${replayed} row(s) put back in line for the relay`);
  } else {
    console.error(usage);
    process.exitCode = 64;
  }
} finally {
  await pool.end();
}

// Operator commands for what did not flow by itself:
//   npm run outbox -- parked                  outbox rows Kafka refused, parked
//   npm run outbox -- replay <id>... | --all  put parked rows back in line for the relay
//   npm run outbox -- dead                    jobs that exhausted their attempts (dead_letters)
//   npm run outbox -- redrive <id>...         put dead-lettered messages back on their queues
import { listDeadLetters, redriveDeadLetters } from '../messaging/dead-letters.ts';
import { listParked, replayParked } from '../relay/relay.sql.ts';
import { loadConfigOrExit } from '../platform/config.ts';
import { createCoreDeps } from './core-deps.ts';
import { guardProcess } from './process-guard.ts';

const usage = 'usage: npm run outbox -- parked | replay <id>... | replay --all | dead | redrive <id>...';
const [verb, ...args] = process.argv.slice(2);
const ids = args.length > 0 && args.every((a) => /^\d+$/.test(a));
const core = createCoreDeps(loadConfigOrExit(), 'outbox-admin');
guardProcess(core.logger);
try {
  if (verb === 'parked') {
    const rows = await listParked(core.pool);
    for (const r of rows) {
      console.log(`${r.id}\t${r.type}\t${r.destination}\tkey=${r.key}\tattempts=${r.attempts}\t${r.last_error ?? ''}`);
    }
    console.log(`${rows.length} parked row(s)`);
  } else if (verb === 'replay' && (args[0] === '--all' || ids)) {
    const replayed = await replayParked(core.pool, args[0] === '--all' ? [] : args);
    console.log(`${replayed} row(s) put back in line for the relay`);
  } else if (verb === 'dead') {
    const rows = await listDeadLetters(core.pool);
    for (const r of rows)
      console.log(`${r.id}\t${r.queue}\t${r.message_id ?? r.job_id}\tattempts=${r.attempts}\t${r.error}`);
    console.log(`${rows.length} dead letter(s)`);
  } else if (verb === 'redrive' && ids) {
    console.log(`${await redriveDeadLetters(core.pool, core.queues, args)} message(s) put back on their queues`);
  } else {
    console.error(usage);
    process.exitCode = 64;
  }
} finally {
  await core.close();
}

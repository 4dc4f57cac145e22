// Operator command for the order machine under live orders:
//   npm run machine -- check   every occupied (machine version, state) of the database, and whether it
//                              has a path into the deployed definition; exits 1 naming the orders
//                              that have none (the workers refuse to start in that case too).
import { checkMachine, formatMachineCheck } from '../orders/machine-check.ts';
import { loadConfigOrExit } from '../platform/config.ts';
import { createPool } from '../platform/db.ts';
import { deployedOrderMachine } from '../../machines/migrations/index.ts';

const usage = 'usage: npm run machine -- check';
const [verb] = process.argv.slice(2);
if (verb !== 'check') {
  console.error(usage);
  process.exit(64);
}
const config = loadConfigOrExit();
const pool = createPool({
  connectionString: config.DATABASE_URL,
  poolSizeMax: 1,
  statementTimeoutMs: config.PG_STATEMENT_TIMEOUT_MS,
  applicationName: 'order-engine-machine-check',
});
try {
  const check = await checkMachine(pool, deployedOrderMachine);
  console.log(formatMachineCheck(check));
  if (check.strandedOrders > 0) process.exitCode = 1;
} finally {
  await pool.end();
}

// Entry point: the engine as one child process per role, each restarted when it exits.
//   npm run supervise                       api, three worker processes, relay, notifications
//   npm run supervise -- --roles api,relay  only some of them
// METRICS_PORT, when set, is the first of consecutive ports for the workers, relay and notifications.
import { loadConfigOrExit } from '../platform/config.ts';
import { createLogger } from '../platform/logger.ts';
import { guardProcess } from './process-guard.ts';
import { defaultRoles, supervise } from './supervisor.ts';

const config = loadConfigOrExit();
const logger = createLogger(config.LOG_LEVEL, 'supervise');
guardProcess(logger);

const all = defaultRoles(config.METRICS_PORT);
const rolesIndex = process.argv.indexOf('--roles');
const wanted = rolesIndex === -1 ? null : (process.argv[rolesIndex + 1] ?? '').split(',').filter((r) => r.length > 0);
const unknown = (wanted ?? []).filter((name) => !all.some((role) => role.name === name));
if (wanted !== null && (wanted.length === 0 || unknown.length > 0)) {
  process.stderr.write(`--roles takes a comma-separated list of ${all.map((r) => r.name).join(', ')}\n`);
  process.exit(64);
}
const roles = wanted === null ? all : all.filter((role) => wanted.includes(role.name));
const supervisor = supervise(roles, logger);
logger.info({ roles: roles.map((r) => r.name) }, 'supervising');

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping every role');
  void supervisor.stop().then(() => process.exit(0));
};
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));

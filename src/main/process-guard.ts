// The last line of defence, not the first: every dependency path has its own error handling, so an
// error that still reaches the process is a bug. It is logged with its stack and the process exits
// non-zero, so its supervisor (`npm run supervise`, systemd, docker-compose) starts a clean one;
// carrying on in an unknown state could do worse than a restart, which the inboxes make harmless.
import { createLogger, type Logger } from '../platform/logger.ts';
import { outages } from '../platform/outage.ts';

/** EX_SOFTWARE from sysexits.h: an internal error. Supervisors log it with the restart. */
export const crashExitCode = 70;

let guarded = false;

export function guardProcess(logger: Logger = createLogger(process.env.LOG_LEVEL ?? 'info')): void {
  outages.useLogger(logger);
  if (guarded) return;
  guarded = true;
  const crash = (kind: string) => (error: unknown) => {
    // pino's err serializer writes the stack.
    logger.fatal({ err: error, kind }, `${kind}: exiting with ${crashExitCode} so a supervisor restarts this process`);
    // The line must be out before the exit, whatever pino's destination buffers; bounded.
    setTimeout(() => process.exit(crashExitCode), 1_000);
    logger.flush(() => process.exit(crashExitCode));
  };
  process.on('uncaughtException', crash('uncaughtException'));
  process.on('unhandledRejection', crash('unhandledRejection'));
}

// Entry point: workers. `--only inventory,payments` runs some roles; the default runs them all.
import { loadConfigOrExit } from '../platform/config.ts';
import { createMetrics } from '../platform/metrics.ts';
import { serveMetrics } from '../platform/metrics-server.ts';
import { createCoreDeps } from './core-deps.ts';
import { startWorkers } from './engine.ts';
import { workerRoles, type WorkerRole } from './roles.ts';
import { onShutdown } from './shutdown.ts';
import { guardProcess } from './process-guard.ts';
import { MachineCheckFailedError } from '../orders/machine-check.ts';

/** EX_CONFIG from sysexits.h: the deployed machine does not fit the stored orders. */
const machineRefusedExitCode = 78;

export function parseRoles(argv: string[]): WorkerRole[] {
  const index = argv.indexOf('--only');
  if (index === -1) return [...workerRoles];
  const roles = (argv[index + 1] ?? '').split(',').filter((r) => r.length > 0);
  const unknown = roles.filter((r) => !(workerRoles as readonly string[]).includes(r));
  if (roles.length === 0 || unknown.length > 0) {
    process.stderr.write(
      `--only takes a comma-separated list of ${workerRoles.join(', ')}; got "${argv[index + 1] ?? ''}"\n`,
    );
    process.exit(64);
  }
  return roles as WorkerRole[];
}

const config = loadConfigOrExit();
const roles = parseRoles(process.argv.slice(2));
const core = createCoreDeps(config, `worker-${roles.join('-')}`);
guardProcess(core.logger);
const metrics = createMetrics();
const running = await startWorkers(core, roles, metrics).catch(async (error: unknown) => {
  if (!(error instanceof MachineCheckFailedError)) throw error;
  // Not a crash: the deployed machine would strand stored orders. Restarting changes nothing.
  core.logger.fatal(error.message);
  process.stderr.write(`${error.message}\n`);
  await core.close();
  process.exit(machineRefusedExitCode);
});
const metricsServer = serveMetrics(metrics.registry, config.METRICS_PORT, config.HTTP_HOST);
core.logger.info({ roles }, 'workers running');
onShutdown(core.logger, [() => running.close(), async () => void metricsServer?.close(), () => core.close()]);

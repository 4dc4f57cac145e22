// Entry point: the whole engine in one process (API, every worker, the sweeper).
import { loadConfigOrExit } from '../platform/config.ts';
import { createMetrics } from '../platform/metrics.ts';
import { createApiApp, listen } from './api-server.ts';
import { createCoreDeps } from './core-deps.ts';
import { startWorkers, workerRoles } from './engine.ts';
import { onShutdown } from './shutdown.ts';

const config = loadConfigOrExit();
const core = createCoreDeps(config, 'all');
const metrics = createMetrics();
const running = startWorkers(core, workerRoles, metrics);
const server = await listen(createApiApp(core, metrics), config.HTTP_PORT, config.HTTP_HOST);
core.logger.info({ port: config.HTTP_PORT, roles: workerRoles }, 'engine running');
onShutdown(core.logger, [
  () => new Promise((resolve) => server.close(() => resolve())),
  () => running.close(),
  () => core.close(),
]);

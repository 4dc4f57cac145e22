// Entry point: the HTTP API alone.
import { loadConfigOrExit } from '../platform/config.ts';
import { createMetrics } from '../platform/metrics.ts';
import { createApiApp, listen, stopServer } from './api-server.ts';
import { createCoreDeps } from './core-deps.ts';
import { onShutdown } from './shutdown.ts';
import { guardProcess } from './process-guard.ts';

const config = loadConfigOrExit();
const core = createCoreDeps(config, 'api');
guardProcess(core.logger);
const server = await listen(createApiApp(core, createMetrics()), config.HTTP_PORT, config.HTTP_HOST);
core.logger.info({ port: config.HTTP_PORT, host: config.HTTP_HOST }, 'api listening');
onShutdown(core.logger, [() => stopServer(server), () => core.close()]);

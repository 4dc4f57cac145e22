// Entry point: the outbox relay to Kafka (queue "outbox-relay"). Run one or several.
import { loadConfigOrExit } from '../platform/config.ts';
import { createMetrics } from '../platform/metrics.ts';
import { serveMetrics } from '../platform/metrics-server.ts';
import { startRelay } from '../relay/relay.worker.ts';
import { createCoreDeps } from './core-deps.ts';
import { onShutdown } from './shutdown.ts';
import { guardProcess } from './process-guard.ts';

const config = loadConfigOrExit();
const core = createCoreDeps(config, 'relay');
guardProcess(core.logger);
const metrics = createMetrics();
const relay = await startRelay({ config, pool: core.pool, redis: core.redis, logger: core.logger, metrics });
const metricsServer = serveMetrics(metrics.registry, config.METRICS_PORT, config.HTTP_HOST);
core.logger.info({ partitions: config.RELAY_PARTITIONS, topic: config.KAFKA_TOPIC_ORDER_EVENTS }, 'relay running');
onShutdown(core.logger, [() => relay.close(), async () => void metricsServer?.close(), () => core.close()]);

// ioredis connections. BullMQ needs maxRetriesPerRequest: null on its connections.
import { Redis, type RedisOptions } from 'ioredis';

export { Redis };

export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const client = new Redis(url, {
    connectTimeout: 2_000,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    ...options,
  });
  // ioredis reconnects by itself; without a listener each failed attempt prints a stack.
  // Readiness (/ready) and the callers' own errors report an unreachable node.
  client.on('error', () => undefined);
  return client;
}

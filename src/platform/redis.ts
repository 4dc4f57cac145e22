// ioredis connections. BullMQ needs maxRetriesPerRequest: null on its connections.
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.ts';
import { outages } from './outage.ts';

export { Redis };

/** The name a Redis node goes by in outage logs, /ready and /health: "redis 127.0.0.1:6379". */
export function redisDependency(url: string): string {
  const parsed = new URL(url);
  return `redis ${parsed.hostname}:${parsed.port || '6379'}`;
}

export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const client = new Redis(url, {
    connectTimeout: 2_000,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    ...options,
  });
  // ioredis reconnects by itself; without a listener each failed attempt prints a stack (and an
  // 'error' event without a listener would crash the process). The outage log says it once.
  const dependency = redisDependency(url);
  client.on('error', (error: unknown) => outages.down(dependency, error));
  client.on('ready', () => outages.up(dependency));
  return client;
}

const redisConnectionCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);
const redisConnectionMessages = ['Connection is closed', 'connect ETIMEDOUT', 'Stream isn', 'LOADING'];

/** A Redis error that means "the node is away", not "the command is wrong". */
export function isRedisConnectionError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message, name } = error as { code?: unknown; message?: unknown; name?: unknown };
  if (redisConnectionCodes.has(String(code)) || name === 'MaxRetriesPerRequestError') return true;
  return redisConnectionMessages.some((m) => String(message).includes(m));
}

/**
 * The 'error' listener for BullMQ's queues and workers: their own connections (BullMQ duplicates
 * ours for blocking reads) report every failed reconnect here. An unreachable node goes to the
 * outage log, once per outage; anything else is logged as it comes.
 */
export function onBullmqError(logger: Logger, dependency: string, what: string): (error: Error) => void {
  return (error) => {
    if (isRedisConnectionError(error)) outages.down(dependency, error);
    else logger.error({ err: error }, `${what} error`);
  };
}

/** The outage-log name of a connection's node. */
export function redisDependencyOf(client: Redis): string {
  return `redis ${client.options.host ?? '127.0.0.1'}:${client.options.port ?? 6379}`;
}

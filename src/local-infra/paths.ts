// Where the local services keep their files. The services belong to the machine, not to a clone: run-time
// state (pidfiles, Kafka's data, logs) lives in ${XDG_STATE_HOME:-~/.local/state}/order-engine, so any clone
// on the machine (a CI checkout beside a working tree) sees the same services as its own and can stop and
// start them. The Kafka jars live in the user's cache, shared the same way.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KAFKA_VERSION = '3.9.1';

export const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** ORDER_ENGINE_STATE_DIR overrides; otherwise `${XDG_STATE_HOME:-$HOME/.local/state}/order-engine`. */
export function stateDir(env: Record<string, string | undefined> = process.env): string {
  if (env.ORDER_ENGINE_STATE_DIR !== undefined && env.ORDER_ENGINE_STATE_DIR !== '') return env.ORDER_ENGINE_STATE_DIR;
  const stateHome =
    env.XDG_STATE_HOME !== undefined && env.XDG_STATE_HOME !== ''
      ? env.XDG_STATE_HOME
      : join(homedir(), '.local', 'state');
  return join(stateHome, 'order-engine');
}

export const servicesDir = stateDir();

/** Our own, pinned Maven project that names the Kafka jars; copied into the cache dir before resolving. */
export const kafkaPomFile = join(repoRoot, 'src', 'local-infra', 'kafka.pom.xml');

export function redisNodePaths(port: number) {
  const dir = join(servicesDir, `redis-${port}`);
  return { dir, pidFile: join(dir, 'redis.pid'), logFile: join(dir, 'redis.log') };
}

/**
 * A node of the local Redis Cluster: its directory also holds nodes.conf, the cluster's view of
 * itself, so a node started again rejoins the cluster it was part of. `baseDir`: a test's own.
 */
export function redisClusterNodePaths(port: number, baseDir = servicesDir) {
  const dir = join(baseDir, `redis-cluster-${port}`);
  return { dir, pidFile: join(dir, 'redis.pid'), logFile: join(dir, 'redis.log'), nodesFile: join(dir, 'nodes.conf') };
}

export const kafkaPaths = {
  dir: join(servicesDir, 'kafka'),
  serverProperties: join(servicesDir, 'kafka', 'server.properties'),
  log4jProperties: join(servicesDir, 'kafka', 'log4j.properties'),
  dataDir: join(servicesDir, 'kafka', 'data'),
  outFile: join(servicesDir, 'kafka', 'kafka.out'),
  pidFile: join(servicesDir, 'kafka', 'kafka.pid'),
  startLock: join(servicesDir, 'kafka', 'start.lock'),
};

/** `${XDG_CACHE_HOME:-$HOME/.cache}/order-engine/kafka-<version>`: outside the repo, so fresh clones reuse it. */
export function kafkaCachePaths(env: Record<string, string | undefined> = process.env) {
  const cacheHome =
    env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  const dir = join(cacheHome, 'order-engine', `kafka-${KAFKA_VERSION}`);
  return {
    dir,
    libsDir: join(dir, 'libs'),
    completeMarker: join(dir, 'libs.complete.json'),
    pomFile: join(dir, 'pom.xml'),
  };
}

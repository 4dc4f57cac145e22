// Where the local services keep their files. Run-time state lives in <repo>/.services (git-ignored, one per
// clone); the Kafka jars live in the user's cache so that every clone on the machine shares one download.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KAFKA_VERSION = '3.9.1';

export const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const servicesDir = join(repoRoot, '.services');

/** Our own, pinned Maven project that names the Kafka jars; copied into the cache dir before resolving. */
export const kafkaPomFile = join(repoRoot, 'src', 'local-infra', 'kafka.pom.xml');

export function redisNodePaths(port: number) {
  const dir = join(servicesDir, `redis-${port}`);
  return { dir, pidFile: join(dir, 'redis.pid'), logFile: join(dir, 'redis.log') };
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

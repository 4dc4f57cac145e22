// The Kafka jars, resolved once from Maven Central into the user cache. A marker written after a complete
// copy lets every later run (and every fresh clone) skip Maven entirely.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kafkaCachePaths, kafkaPomFile, KAFKA_VERSION } from './paths.ts';
import { commandOutputOf, runCommand } from './process.local.ts';
import { ServiceError, type Progress } from './service-result.ts';

// A cold local Maven repository needs about 6 s on a good link; the bound leaves room for a slow one.
const mavenTimeoutMs = 300_000;

export interface KafkaLibs {
  libsDir: string;
  /** The `-cp` value: Java expands the trailing `*` to every jar in the directory. */
  classPath: string;
  jarCount: number;
  action: 'cached' | 'resolved';
}

interface CompleteMarker {
  pomSha256: string;
  jarCount: number;
}

function jarCountIn(dir: string): number {
  return existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.jar')).length : 0;
}

function cachedJarCount(pomSha256: string): number | undefined {
  const paths = kafkaCachePaths();
  if (!existsSync(paths.completeMarker)) return undefined;
  try {
    const marker = JSON.parse(readFileSync(paths.completeMarker, 'utf8')) as CompleteMarker;
    const complete = marker.pomSha256 === pomSha256 && jarCountIn(paths.libsDir) === marker.jarCount;
    return complete ? marker.jarCount : undefined;
  } catch {
    return undefined;
  }
}

/** Returns the cached jars, or resolves them with Maven when the cache is missing, partial or stale. */
export async function ensureKafkaLibs(onProgress?: Progress): Promise<KafkaLibs> {
  const paths = kafkaCachePaths();
  const pom = readFileSync(kafkaPomFile);
  const pomSha256 = createHash('sha256').update(pom).digest('hex');
  const classPath = join(paths.libsDir, '*');
  const cached = cachedJarCount(pomSha256);
  if (cached !== undefined) return { libsDir: paths.libsDir, classPath, jarCount: cached, action: 'cached' };

  onProgress?.(`kafka libs: resolving kafka_2.13 ${KAFKA_VERSION} with Maven into ${paths.dir} (first run only)`);
  mkdirSync(paths.dir, { recursive: true });
  rmSync(paths.completeMarker, { force: true });
  writeFileSync(paths.pomFile, pom);
  // Copy into a private directory and rename it into place, so a failed or concurrent run never leaves a
  // half-filled libs directory that looks usable.
  const stagingDir = join(paths.dir, `libs.staging-${process.pid}`);
  rmSync(stagingDir, { recursive: true, force: true });
  const args = ['-q', '-B', '-f', paths.pomFile, 'dependency:copy-dependencies', `-DoutputDirectory=${stagingDir}`];
  try {
    await runCommand('mvn', [...args, '-DincludeScope=runtime'], { timeoutMs: mavenTimeoutMs, cwd: paths.dir });
  } catch (error) {
    rmSync(stagingDir, { recursive: true, force: true });
    throw new ServiceError(
      'kafka',
      `resolving the jars with Maven: ${(error as Error).message}`,
      commandOutputOf(error),
    );
  }
  const jarCount = jarCountIn(stagingDir);
  if (jarCount === 0) throw new ServiceError('kafka', `Maven copied no jars into ${stagingDir}`);
  rmSync(paths.libsDir, { recursive: true, force: true });
  renameSync(stagingDir, paths.libsDir);
  writeFileSync(paths.completeMarker, `${JSON.stringify({ pomSha256, jarCount } satisfies CompleteMarker)}\n`);
  return { libsDir: paths.libsDir, classPath, jarCount, action: 'resolved' };
}

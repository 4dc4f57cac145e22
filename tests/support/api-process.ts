// The API as its own process (src/main/api.main.ts) on the test database, for tests that signal
// or kill it. It has no workers: orders it accepts stay pending.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { testDatabaseUrl } from './test-config.ts';

export interface ApiProcess {
  child: ChildProcess;
  url: string;
  /** Everything the process printed so far. */
  output(): string;
  exited: Promise<number | null>;
}

export async function startApiProcess(env: Record<string, string> = {}): Promise<ApiProcess> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/api.main.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: testDatabaseUrl(),
      QUEUE_PREFIX: `api-proc-${randomUUID().slice(0, 6)}`,
      HTTP_PORT: String(port),
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (let attempt = 0; attempt < 150; attempt += 1) {
    const up = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return { child, url, output: () => output, exited };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`api process did not start:\n${output}`);
}

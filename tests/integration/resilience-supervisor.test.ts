// `npm run supervise`: each role a child process, restarted when it exits. A role SIGKILLed comes
// back with a new pid and a log line naming how it exited; a role that crashes (the process guard's
// exit code) too; SIGTERM to the supervisor stops every role.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { processEnv, waitFor } from '../support/engine-processes.ts';
import { createTopic, deleteTopic } from '../support/kafka-topic.ts';
import { testConfig } from '../support/test-config.ts';

interface LogLine {
  msg: string;
  role?: string;
  pid?: number;
  code?: number | null;
  signal?: string | null;
}

let supervisor: ChildProcess | undefined;
let topic: string | undefined;

afterAll(async () => {
  if (supervisor !== undefined && supervisor.exitCode === null) supervisor.kill('SIGKILL');
  if (topic !== undefined) await deleteTopic(testConfig(), topic);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the process guard', () => {
  it.each([
    ['an unhandled rejection', "Promise.reject(new Error('guard-test'))"],
    ['an uncaught exception', "setTimeout(() => { throw new Error('guard-test'); }, 1)"],
  ])(
    'logs %s with its stack and exits with 70',
    async (_name, fault) => {
      const script = `import { guardProcess } from './src/main/process-guard.ts'; guardProcess(); ${fault};`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env: { ...process.env, LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
      expect(code).toBe(70);
      const line = JSON.parse(output.trim().split('\n').at(-1)!) as { err: { message: string; stack: string } };
      expect(line.err.message).toBe('guard-test');
      expect(line.err.stack).toContain('Error: guard-test');
    },
    30_000,
  );
});

describe('the supervisor', () => {
  it('restarts a role that exited, and stops them all on SIGTERM', async () => {
    topic = await createTopic(testConfig(), 1);
    supervisor = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/main/supervise.main.ts', '--roles', 'relay,notifications'],
      {
        env: processEnv({ QUEUE_PREFIX: `sup-${Date.now()}`, KAFKA_TOPIC_ORDER_EVENTS: topic, LOG_LEVEL: 'info' }),
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const lines: LogLine[] = [];
    createInterface({ input: supervisor.stdout! }).on('line', (line) => {
      if (line.startsWith('{')) lines.push(JSON.parse(line) as LogLine);
    });
    const startedPids = (role: string) =>
      lines.filter((l) => l.role === role && l.msg === `${role} started`).map((l) => l.pid!);

    await waitFor(
      'both roles started',
      async () => startedPids('relay').length === 1 && startedPids('notifications').length === 1,
      30_000,
    );
    const [relayPid] = startedPids('relay');
    process.kill(relayPid!, 'SIGKILL');
    await waitFor('the relay restarted', async () => startedPids('relay').length === 2, 30_000);
    // One exit, the one we caused, with its signal in the log line; the other role untouched.
    const exits = lines
      .filter((l) => l.msg.includes(' exited '))
      .map(({ role, pid, code, signal }) => ({ role, pid, code, signal }));
    expect(exits).toEqual([{ role: 'relay', pid: relayPid, code: null, signal: 'SIGKILL' }]);
    expect(alive(startedPids('relay')[1]!)).toBe(true);
    expect(startedPids('notifications')).toHaveLength(1);

    const children = [startedPids('relay')[1]!, startedPids('notifications')[0]!];
    const exited = new Promise<number | null>((resolve) => supervisor!.once('exit', (code) => resolve(code)));
    supervisor.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(children.filter(alive)).toEqual([]);
    expect(lines.filter((l) => l.msg.includes(' exited '))).toHaveLength(1);
  }, 120_000);
});

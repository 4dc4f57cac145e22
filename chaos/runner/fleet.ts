// The engine as separate OS processes, one per role, each logging to its own file. The runner
// kills, pauses and restarts them; any exit it did not cause is a failure of the run, kept with its
// exit code and the last lines of its log.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../src/local-infra/paths.ts';
import { tailOfFile } from '../../src/local-infra/process.local.ts';
import { sleep } from '../../src/platform/db.ts';
import { twinSuffix } from './schedule.ts';

/** A role's name, or `<role>-twin` for a second process of that worker role. */
type Member = string;

const readyMarkers: Record<string, string> = {
  api: '"msg":"api listening"',
  relay: '"msg":"relay running"',
  notifications: '"msg":"notifications consumer running"',
};
const workerReadyMarker = '"msg":"workers running"';
const stopGraceMs = 15_000;
const lastLinesCount = 12;
const errorHeadline = /Error|Unhandled|"level":(50|60)/;

export interface UnexpectedExit {
  member: Member;
  code: number | null;
  signal: string | null;
  atMs: number;
  lastLines: string[];
}

function commandOf(member: Member): string[] {
  const role = member.endsWith(twinSuffix) ? member.slice(0, -twinSuffix.length) : member;
  switch (role) {
    case 'api':
      return ['src/main/api.main.ts'];
    case 'relay':
      return ['src/main/relay.main.ts'];
    case 'notifications':
      return ['src/main/notifications.main.ts'];
    default:
      return ['src/main/worker.main.ts', '--only', role];
  }
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  /** The runner stopped it on purpose: its exit is not a failure. */
  expected: boolean;
  paused: boolean;
}

export class Fleet {
  readonly unexpectedExits: UnexpectedExit[] = [];
  private readonly running = new Map<Member, Running>();
  private readonly startedAt = Date.now();
  private stopping = false;

  constructor(
    private readonly env: Record<string, string>,
    private readonly logDir: string,
    /** Settings of one member only (the API's larger pool). */
    private readonly memberEnv: Partial<Record<Member, Record<string, string>>> = {},
    private readonly readyTimeoutMs = 90_000,
  ) {}

  logFile(member: Member): string {
    return join(this.logDir, `${member}.log`);
  }

  /** Starts a member and waits for its ready line. `envOverride` stays until the next start. */
  async start(member: Member, envOverride: Record<string, string> = {}): Promise<void> {
    if (this.running.has(member)) throw new Error(`${member} is running already`);
    const logFile = this.logFile(member);
    const fd = openSync(logFile, 'a');
    const offset = statSync(logFile).size;
    writeSync(fd, `--- chaos runner: starting ${member} at ${new Date().toISOString()}\n`);
    // node --import tsx, not npx tsx: a wrapper process would survive a SIGKILL of its parent.
    const child = spawn(process.execPath, ['--import', 'tsx', ...commandOf(member)], {
      cwd: repoRoot,
      env: { ...process.env, ...this.env, ...this.memberEnv[member], ...envOverride },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    const entry: Running = { child, exited: Promise.resolve(), expected: false, paused: false };
    entry.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.running.delete(member);
        if (!entry.expected && !this.stopping) this.recordExit(member, code, signal);
        resolve();
      }),
    );
    this.running.set(member, entry);
    await this.waitReady(member, logFile, offset, entry);
  }

  private recordExit(member: Member, code: number | null, signal: string | null): void {
    // The last lines of a crash are often the tail of a dumped error object: keep its headline too.
    const tail = tailOfFile(this.logFile(member), 80).split('\n');
    const headlines = tail.filter((line) => errorHeadline.test(line)).slice(0, 5);
    const lastLines = [...headlines, '...', ...tail.slice(-lastLinesCount)];
    this.unexpectedExits.push({ member, code, signal, atMs: Date.now() - this.startedAt, lastLines });
  }

  private async waitReady(member: Member, logFile: string, offset: number, entry: Running): Promise<void> {
    const marker = readyMarkers[member] ?? workerReadyMarker;
    const deadline = Date.now() + this.readyTimeoutMs;
    while (Date.now() < deadline) {
      if (!this.running.has(member) || this.running.get(member) !== entry) {
        throw new Error(`${member} exited before it was ready; see ${logFile}`);
      }
      if (readFileSync(logFile).subarray(offset).toString('utf8').includes(marker)) return;
      await sleep(100);
    }
    throw new Error(`${member} was not ready after ${this.readyTimeoutMs} ms; see ${logFile}`);
  }

  isRunning(member: Member): boolean {
    return this.running.has(member);
  }

  /** SIGKILL, and wait until it is gone. */
  async kill(member: Member): Promise<void> {
    const entry = this.running.get(member);
    if (entry === undefined) return;
    entry.expected = true;
    entry.child.kill('SIGKILL');
    await entry.exited;
  }

  /** SIGSTOP: the process keeps its sockets and locks but does nothing. */
  pause(member: Member): boolean {
    const entry = this.running.get(member);
    if (entry === undefined) return false;
    entry.paused = entry.child.kill('SIGSTOP');
    return entry.paused;
  }

  resume(member: Member): void {
    const entry = this.running.get(member);
    if (entry === undefined || !entry.paused) return;
    entry.child.kill('SIGCONT');
    entry.paused = false;
  }

  /** Graceful stop of everything (SIGTERM, then SIGKILL after a grace): these exits are expected. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    const entries = [...this.running.values()];
    for (const entry of entries) {
      entry.expected = true;
      if (entry.paused) entry.child.kill('SIGCONT');
      entry.child.kill('SIGTERM');
    }
    const all = Promise.all(entries.map((e) => e.exited));
    const timedOut = await Promise.race([all.then(() => false), sleep(stopGraceMs).then(() => true)]);
    if (timedOut) for (const entry of entries) entry.child.kill('SIGKILL');
    await all;
  }
}

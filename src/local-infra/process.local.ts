// Processes we start and stop: pidfiles that prove ownership, bounded commands, detached spawns, log tails.
import { execFile, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import type { Progress } from './service-result.ts';
import { waitUntil, WaitTimeoutError } from './wait.ts';

/** Whether `pid` runs and is not a zombie (an exited child that nobody reaped yet counts as gone). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state letter follows the command name in parentheses, which may itself contain spaces.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/**
 * The pid in `pidFile` when that process is alive and its command line contains `marker`. A pid that the
 * kernel has since given to an unrelated process does not match, so we never signal a stranger.
 */
export function livePidFromFile(pidFile: string, marker: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  if (!isProcessAlive(pid) || !commandLine(pid).includes(marker)) return undefined;
  return pid;
}

export function removeFile(path: string): void {
  rmSync(path, { force: true });
}

export interface CommandOutput {
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell and with a deadline; the error message carries the end of its output. */
export function runCommand(command: string, args: string[], options: { timeoutMs: number; cwd?: string }) {
  return new Promise<CommandOutput>((resolve, reject) => {
    const execOptions = { timeout: options.timeoutMs, cwd: options.cwd, maxBuffer: 16 * 1024 * 1024 };
    execFile(command, args, execOptions, (error, stdout, stderr) => {
      if (error === null) {
        resolve({ stdout, stderr });
        return;
      }
      const lines = `${stdout}\n${stderr}`.split('\n').filter((line) => line.trim() !== '');
      const last = lines.at(-1);
      const lastLine = last === undefined ? '' : `: ${last}`;
      const reason = error.killed
        ? `timed out after ${options.timeoutMs} ms`
        : typeof error.code === 'number'
          ? `exited with code ${error.code}${lastLine}`
          : error.code === 'ENOENT'
            ? 'is not installed (not found on PATH)'
            : (error.message.split('\n')[0] ?? 'failed');
      reject(Object.assign(new Error(`${command} ${reason}`), { output: lines.slice(-15).join('\n') }));
    });
  });
}

/**
 * Like runCommand, but hands every output line to `onLine` as it comes, for commands that run for minutes
 * (apt-get downloading a browser): the person waiting sees progress instead of silence.
 */
export function runCommandStreaming(
  command: string,
  args: string[],
  options: { timeoutMs: number; env?: NodeJS.ProcessEnv; onLine: (line: string) => void },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const takeLines = (stream: NodeJS.ReadableStream) => {
      let pending = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (pending + chunk).split(/\r\n|\r|\n/);
        pending = lines.pop() ?? '';
        for (const line of lines.map((entry) => entry.trimEnd()).filter((entry) => entry !== '')) {
          tail.push(line);
          if (tail.length > 15) tail.shift();
          options.onLine(line);
        }
      });
    };
    takeLines(child.stdout);
    takeLines(child.stderr);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, options.timeoutMs);
    const fail = (reason: string) =>
      reject(Object.assign(new Error(`${command} ${reason}`), { output: tail.join('\n') }));
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      fail(error.code === 'ENOENT' ? 'is not installed (not found on PATH)' : error.message);
    });
    child.once('close', (code, signalName) => {
      clearTimeout(timer);
      if (timedOut) fail(`timed out after ${options.timeoutMs} ms`);
      else if (code === 0) resolve();
      else fail(code === null ? `was killed by ${signalName ?? 'a signal'}` : `exited with code ${code}`);
    });
  });
}

/** The output lines of a failed runCommand, if any. */
export function commandOutputOf(error: unknown): string | undefined {
  const output = (error as { output?: unknown } | undefined)?.output;
  return typeof output === 'string' && output !== '' ? output : undefined;
}

/**
 * Starts a process that outlives us: its own process group, output appended to `outFile`, and no handle
 * that keeps our event loop alive, so `npm run services:up` returns while the server keeps running.
 */
export function spawnDetached(command: string, args: string[], options: { outFile: string; cwd: string }): number {
  const outFd = openSync(options.outFile, 'a');
  try {
    const child = spawn(command, args, { cwd: options.cwd, detached: true, stdio: ['ignore', outFd, outFd] });
    // Without a listener a failed spawn (no such command) would crash us; the missing pid reports it below.
    child.once('error', () => undefined);
    if (child.pid === undefined) throw new Error(`could not start ${command} (is it installed and on PATH?)`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(outFd);
  }
}

/** Keeps a log that every start appends to from growing without bound: past `maxBytes` it becomes `<path>.1`. */
export function rotateLogIfLarger(path: string, maxBytes: number): void {
  if (existsSync(path) && statSync(path).size > maxBytes) renameSync(path, `${path}.1`);
}

export function writePidFile(pidFile: string, pid: number): void {
  writeFileSync(pidFile, `${pid}\n`);
}

/**
 * SIGTERM, then wait up to `graceMs` for the process to exit; SIGKILL if it does not, and wait `killWaitMs`
 * more. Returns how it ended; throws only when even SIGKILL did not end it.
 */
export async function terminateProcess(pid: number, limits: { graceMs: number; killWaitMs: number }) {
  const gone = () => Promise.resolve(!isProcessAlive(pid));
  signal(pid, 'SIGTERM');
  if (await waitQuietly(gone, limits.graceMs, `pid ${pid} to exit`)) return 'stopped' as const;
  signal(pid, 'SIGKILL');
  if (await waitQuietly(gone, limits.killWaitMs, `pid ${pid} to exit after SIGKILL`)) return 'killed' as const;
  throw new Error(`pid ${pid} still runs after SIGTERM and SIGKILL`);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

async function waitQuietly(probe: () => Promise<boolean>, timeoutMs: number, description: string) {
  try {
    await waitUntil(probe, { description, timeoutMs, intervalMs: 100 });
    return true;
  } catch (error) {
    if (error instanceof WaitTimeoutError) return false;
    throw error;
  }
}

/**
 * The last `lineCount` lines of a log file (read from its last 64 KiB only), leaving out lines that match
 * `skip` (such as Java stack frames), or a note that the file is missing.
 */
export function tailOfFile(path: string, lineCount: number, skip?: RegExp): string {
  if (!existsSync(path)) return `(${path} does not exist)`;
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const buffer = Buffer.alloc(Math.min(size, 64 * 1024));
    readSync(fd, buffer, 0, buffer.length, size - buffer.length);
    const lines = buffer.toString('utf8').trimEnd().split('\n');
    return lines
      .filter((line) => skip === undefined || !skip.test(line))
      .slice(-lineCount)
      .join('\n');
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs `work` while holding `lockFile` (created exclusively, holding our pid), so two concurrent starters
 * never launch the same server twice: the second waits, then finds the server running and reuses it. A
 * lock whose holder has died is taken over.
 */
export async function withLockFile<T>(
  lockFile: string,
  limits: { waitMs: number; onProgress?: Progress },
  work: () => Promise<T>,
): Promise<T> {
  await waitUntil(() => Promise.resolve(tryLock(lockFile)), {
    description: `waiting for the start lock ${lockFile}, held by another start`,
    timeoutMs: limits.waitMs,
    intervalMs: 200,
    ...(limits.onProgress === undefined ? {} : { onProgress: limits.onProgress }),
  });
  try {
    return await work();
  } finally {
    removeFile(lockFile);
  }
}

function tryLock(lockFile: string): boolean {
  try {
    writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const holder = Number.parseInt(readFileSync(lockFile, 'utf8').trim(), 10);
  // A holder that died (Ctrl-C during a start) leaves the file behind; the next poll creates it anew.
  if (!Number.isInteger(holder) || !isProcessAlive(holder)) removeFile(lockFile);
  return false;
}

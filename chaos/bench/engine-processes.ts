// The engine as the operators run it: one OS process per role (the API, each worker role, the
// relay, the notifications consumer), each started from its own entry point, ready when its log
// says so (the API: when /ready answers). A role that dies during a run fails the bench by name.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { defaultRoles } from '../../src/main/supervisor.ts';
import { pollUntil } from './bench-support.ts';

export interface RoleSpec {
  role: string;
  entry: string;
  args: string[];
  env: Record<string, string>;
  /** The `msg` of the log line that says the role is running; null: wait for the API's /ready. */
  readyMessage: string | null;
  /** Where its metrics are served, beside the API's own /metrics (null: none, or the API's). */
  metricsPort: number | null;
}

/** The two ways the engine runs: `npm run up` (one process) and `npm run supervise` (a process per role). */
export type EngineLayout = 'one-process' | 'per-role';
export const engineLayouts: readonly EngineLayout[] = ['one-process', 'per-role'];

const readyMessages: Record<string, string | null> = {
  'api.main.ts': null,
  'all.main.ts': null,
  'worker.main.ts': 'workers running',
  'relay.main.ts': 'relay running',
  'notifications.main.ts': 'notifications consumer running',
};

/**
 * The processes of a layout: `npm run start`'s one process, or exactly the roles `npm run supervise`
 * starts (its own list), each with a metrics port from metricsPortBase.
 */
export function engineRolesOf(layout: EngineLayout, metricsPortBase: number): RoleSpec[] {
  const roles =
    layout === 'one-process'
      ? [{ name: 'engine', entry: 'all.main.ts', args: [], env: {} as Record<string, string> }]
      : defaultRoles(metricsPortBase);
  return roles.map((spec) => ({
    role: spec.name,
    entry: `src/main/${spec.entry}`,
    args: spec.args,
    env: spec.env,
    readyMessage: readyMessages[spec.entry] ?? null,
    metricsPort: spec.env.METRICS_PORT === undefined ? null : Number(spec.env.METRICS_PORT),
  }));
}

/** The role that runs the inventory worker (restarted with Redlock off in the hot phases). */
export function inventoryRoleOf(layout: EngineLayout): string {
  return layout === 'one-process' ? 'engine' : 'worker-inventory';
}

/** Every child the bench started and has not seen exit, so an interrupted run leaves none behind. */
const liveChildren = new Set<ChildProcess>();

export function adoptChild(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

/** On SIGINT or SIGTERM: stop every child, then exit with the signal's status. */
export function stopChildrenOnSignal(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of liveChildren) child.kill('SIGTERM');
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const tailLines = 30;

interface Running {
  spec: RoleSpec;
  child: ChildProcess;
  tail: string[];
  ready: boolean;
}

export class EngineProcesses {
  private readonly running = new Map<string, Running>();
  private stopping = false;
  private failure: string | null = null;

  constructor(
    private readonly env: Record<string, string>,
    private readonly apiUrl: string,
    readonly roles: RoleSpec[],
  ) {}

  /** Starts every role and resolves when all are ready. */
  async start(timeoutMs: number): Promise<void> {
    this.stopping = false;
    for (const spec of this.roles) this.spawnRole(spec, {});
    await this.waitReady(
      this.roles.map((s) => s.role),
      timeoutMs,
    );
  }

  /** Every /metrics the engine serves: the API's, and each role's own port. */
  metricsUrls(): string[] {
    const ports = this.roles.flatMap((r) => (r.metricsPort === null ? [] : [r.metricsPort]));
    return [`${this.apiUrl}/metrics`, ...ports.map((port) => `http://127.0.0.1:${port}/metrics`)];
  }

  /** Stops one role and starts it again with extra settings (e.g. REDLOCK_ENABLED=false). */
  async restart(role: string, extraEnv: Record<string, string>, timeoutMs: number): Promise<void> {
    const running = this.running.get(role);
    if (running === undefined) throw new Error(`no running role ${role}`);
    this.running.delete(role); // first, so its exit is not taken for a crash
    await stopChild(running);
    this.spawnRole(running.spec, extraEnv);
    await this.waitReady([role], timeoutMs);
  }

  pids(): Map<string, number> {
    return new Map([...this.running].map(([role, r]) => [role, r.child.pid!]));
  }

  /** Throws, naming the role and its last log lines, if a role died while the bench ran. */
  assertAlive(): void {
    if (this.failure !== null) throw new Error(this.failure);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.running.values()].map(stopChild));
    this.running.clear();
  }

  private spawnRole(spec: RoleSpec, extraEnv: Record<string, string>): void {
    // BENCH_NODE_ARGS passes flags to every engine process, e.g. --cpu-prof to profile them.
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0);
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', spec.entry, ...spec.args], {
      cwd: repositoryRoot,
      env: { ...process.env, ...this.env, ...spec.env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    adoptChild(child);
    const running: Running = { spec, child, tail: [], ready: false };
    this.running.set(spec.role, running);
    const onLine = (line: string) => {
      running.tail.push(line);
      if (running.tail.length > tailLines) running.tail.shift();
      if (spec.readyMessage !== null && !running.ready && line.includes(`"msg":"${spec.readyMessage}"`)) {
        running.ready = true;
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.on('exit', (code, signal) => {
      if (this.stopping || this.running.get(spec.role) !== running) return;
      this.failure ??=
        `engine role ${spec.role} exited (code ${code}, signal ${signal}); its last lines:\n` +
        running.tail.map((l) => `  ${l}`).join('\n');
    });
  }

  private async waitReady(roles: string[], timeoutMs: number): Promise<void> {
    const ready = await pollUntil(
      async () => {
        this.assertAlive();
        for (const role of roles) {
          const running = this.running.get(role)!;
          if (!running.ready && running.spec.readyMessage === null) running.ready = await this.apiReady();
        }
        return roles.every((role) => this.running.get(role)!.ready);
      },
      timeoutMs,
      200,
    );
    if (!ready) {
      const late = roles.filter((role) => !this.running.get(role)!.ready);
      const tails = late.map((role) => `${role}:\n${this.running.get(role)!.tail.join('\n')}`).join('\n');
      throw new Error(`engine roles not ready within ${timeoutMs} ms: ${late.join(', ')}\n${tails}`);
    }
  }

  private async apiReady(): Promise<boolean> {
    try {
      return (await fetch(`${this.apiUrl}/ready`)).ok;
    } catch {
      return false;
    }
  }
}

/** SIGTERM, then SIGKILL after 10 s: the role's own shutdown closes its connections cleanly. */
async function stopChild(running: Running): Promise<void> {
  const { child } = running;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

// What the tests need from the OS beside the servers: Debian's chromium (the browser tests drive it with
// playwright-core, never a downloaded browser) and promtool (Debian's prometheus package, for the alert-rule
// tests). `services:up` installs what is missing with apt-get, as root or through sudo that asks no password;
// anyone else gets the exact command, so the README's two commands stay the whole set-up.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { commandOutputOf, runCommand, runCommandStreaming } from './process.local.ts';
import { ServiceError, type Progress } from './service-result.ts';

export interface OsTool {
  name: string;
  debianPackage: string;
  /** The variable the tests read to find the tool elsewhere; the same names as in the test files. */
  pathVariable: string;
  defaultPath: string;
}

export const osTools: readonly OsTool[] = [
  { name: 'chromium', debianPackage: 'chromium', pathVariable: 'CHROMIUM_PATH', defaultPath: '/usr/bin/chromium' },
  { name: 'promtool', debianPackage: 'prometheus', pathVariable: 'PROMTOOL_PATH', defaultPath: '/usr/bin/promtool' },
];

export const osToolsService = osTools.map((tool) => tool.name).join(', ');

type Env = Record<string, string | undefined>;

// Downloading chromium and its libraries over a slow link takes minutes; the bound only stops a hung apt.
const updateTimeoutMs = 5 * 60_000;
const installTimeoutMs = 20 * 60_000;
// Another apt-get (unattended upgrades, a second clone's services:up) holds dpkg's lock: wait for it.
const dpkgLockWaitS = 300;

export function toolPath(tool: OsTool, env: Env = process.env): string {
  const override = env[tool.pathVariable];
  return override !== undefined && override !== '' ? override : tool.defaultPath;
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** How apt-get can be run here: directly, through `sudo -n`, or not at all (with or without a sudo to ask). */
export type AptAccess = 'root' | 'sudo' | 'none';

export async function aptAccess(uid = process.getuid?.()): Promise<{ access: AptAccess; sudoInstalled: boolean }> {
  if (uid === 0) return { access: 'root', sudoInstalled: false };
  if (!isOnPath('sudo')) return { access: 'none', sudoInstalled: false };
  try {
    // -n: fail instead of prompting, so a run without a terminal (CI) never hangs on a password.
    await runCommand('sudo', ['-n', 'true'], { timeoutMs: 10_000 });
    return { access: 'sudo', sudoInstalled: true };
  } catch {
    return { access: 'none', sudoInstalled: true };
  }
}

/** Looks through PATH ourselves: a spawn's error cannot tell "not installed" from an unreadable PATH entry. */
export function isOnPath(command: string, env: Env = process.env): boolean {
  return (env.PATH ?? '').split(':').some((dir) => dir !== '' && isExecutable(join(dir, command)));
}

/** The command a person runs by hand: update first, since their package lists may be old or absent. */
export function installCommandLine(packages: readonly string[], access: AptAccess): string {
  const sudo = access === 'root' ? '' : 'sudo ';
  return `${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

/** Packages that `apt-cache policy` shows without a candidate: the lists are missing or do not know them. */
export function packagesWithoutCandidate(policyOutput: string, packages: readonly string[]): string[] {
  const candidates = new Map<string, string>();
  let current: string | undefined;
  for (const line of policyOutput.split('\n')) {
    const header = /^(\S+):$/.exec(line);
    if (header?.[1] !== undefined) current = header[1];
    const candidate = /^\s+Candidate:\s*(\S+)/.exec(line);
    if (current !== undefined && candidate?.[1] !== undefined) candidates.set(current, candidate[1]);
  }
  return packages.filter((name) => {
    const candidate = candidates.get(name);
    return candidate === undefined || candidate === '(none)';
  });
}

export interface OsToolsResult {
  action: 'present' | 'installed';
  detail: string;
}

/** Returns when every tool is executable; installs the missing ones with apt-get when it may. */
export async function ensureOsTools(onProgress?: Progress, env: Env = process.env): Promise<OsToolsResult> {
  const missing = osTools.filter((tool) => !isExecutable(toolPath(tool, env)));
  if (missing.length === 0) {
    return { action: 'present', detail: osTools.map((tool) => toolPath(tool, env)).join(', ') };
  }
  const overridden = missing.filter((tool) => toolPath(tool, env) !== tool.defaultPath);
  if (overridden.length > 0) {
    // apt-get installs into /usr/bin; it cannot make a path the person chose appear.
    const named = overridden.map((tool) => `${tool.pathVariable}=${toolPath(tool, env)}`).join(', ');
    throw new ServiceError(osToolsService, `${named} is not an executable; fix or unset the variable`);
  }
  const packages = missing.map((tool) => tool.debianPackage);
  const missingPaths = missing.map((tool) => tool.defaultPath).join(', ');
  if (!isOnPath('apt-get')) {
    const variables = missing.map((tool) => tool.pathVariable).join(', ');
    throw new ServiceError(
      osToolsService,
      `${missingPaths} missing, and this machine has no apt-get: install ${packages.join(' ')} and set ${variables}`,
    );
  }
  const { access, sudoInstalled } = await aptAccess();
  if (access === 'none') {
    const [why, run] = sudoInstalled
      ? ['not root, and sudo asks for a password', `Run: ${installCommandLine(packages, 'sudo')}`]
      : ['not root, and no sudo here', `Run as root: ${installCommandLine(packages, 'root')}`];
    throw new ServiceError(osToolsService, `${missingPaths} missing (${why}). ${run}`);
  }
  await aptInstall(packages, access, onProgress);
  const stillMissing = missing.filter((tool) => !isExecutable(tool.defaultPath));
  if (stillMissing.length > 0) {
    const paths = stillMissing.map((tool) => tool.defaultPath).join(', ');
    throw new ServiceError(osToolsService, `apt-get installed ${packages.join(' ')} but ${paths} is still missing`);
  }
  return { action: 'installed', detail: `${await installedVersions(packages)} with apt-get` };
}

/** `apt-get update` first only when the lists lack a package; again once if the install fails (stale lists). */
async function aptInstall(packages: string[], access: Exclude<AptAccess, 'none'>, onProgress?: Progress) {
  const apt = (args: string[], timeoutMs: number) => runApt(args, access, timeoutMs, onProgress);
  let updated = false;
  if (packagesWithoutCandidate(await aptPolicy(packages), packages).length > 0) {
    onProgress?.(`apt-get update: the package lists do not know ${packages.join(' ')}`);
    await apt(['update'], updateTimeoutMs);
    updated = true;
  }
  const install = ['install', '-y', '--no-install-recommends', ...packages];
  onProgress?.(`apt-get install ${packages.join(' ')}${access === 'sudo' ? ' (through sudo)' : ''}`);
  try {
    await apt(install, installTimeoutMs);
  } catch (error) {
    if (updated) throw error;
    // A mirror drops superseded versions (chromium's security updates come often): refresh the lists, retry.
    onProgress?.(`apt-get install failed (${(error as Error).message}); running apt-get update and retrying`);
    await apt(['update'], updateTimeoutMs);
    await apt(install, installTimeoutMs);
  }
}

async function runApt(args: string[], access: Exclude<AptAccess, 'none'>, timeoutMs: number, onProgress?: Progress) {
  const aptArgs = ['-q', '-o', `DPkg::Lock::Timeout=${dpkgLockWaitS}`, ...args];
  // sudo may reset the environment, so the non-interactive frontend travels through `env` on its far side.
  const [command, commandArgs] =
    access === 'root'
      ? ['apt-get', aptArgs]
      : ['sudo', ['-n', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...aptArgs]];
  try {
    await runCommandStreaming(command, commandArgs, {
      timeoutMs,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      onLine: (line) => onProgress?.(`apt-get: ${line}`),
    });
  } catch (error) {
    throw new ServiceError(
      osToolsService,
      `apt-get ${args[0] ?? ''}: ${(error as Error).message}`,
      commandOutputOf(error),
    );
  }
}

async function aptPolicy(packages: string[]): Promise<string> {
  try {
    return (await runCommand('apt-cache', ['policy', ...packages], { timeoutMs: 30_000 })).stdout;
  } catch {
    // No answer counts as "no candidate": the update that follows is what would fix it.
    return '';
  }
}

/** `chromium 156.0.8078.114-1~deb12u1, prometheus 2.42.0+ds-5+deb12u1`, or the names alone without dpkg. */
export async function installedVersions(packages: readonly string[]): Promise<string> {
  try {
    const format = '${Package} ${Version}\n';
    const { stdout } = await runCommand('dpkg-query', ['-W', `-f=${format}`, ...packages], { timeoutMs: 10_000 });
    return stdout.trim().split('\n').join(', ');
  } catch {
    return packages.join(', ');
  }
}

export interface OsToolStatus {
  tool: OsTool;
  path: string;
  present: boolean;
  detail: string;
}

export async function osToolStatuses(env: Env = process.env): Promise<OsToolStatus[]> {
  const statuses: OsToolStatus[] = [];
  for (const tool of osTools) {
    const path = toolPath(tool, env);
    const present = isExecutable(path);
    const detail = !present
      ? `missing (Debian package ${tool.debianPackage}; npm run services:up installs it)`
      : path === tool.defaultPath
        ? `Debian ${await installedVersions([tool.debianPackage])}`
        : `from ${tool.pathVariable}`;
    statuses.push({ tool, path, present, detail });
  }
  return statuses;
}

// services:up's OS tools: where it looks for them (the same place the tests do), when it runs
// `apt-get update`, and the command it prints for a person who must install them by hand.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  aptAccess,
  ensureOsTools,
  installCommandLine,
  isOnPath,
  osTools,
  packagesWithoutCandidate,
  toolPath,
} from '../../src/local-infra/os-tools.local.ts';

const policy = `chromium:
  Installed: (none)
  Candidate: 156.0.8078.114-1~deb12u1
  Version table:
     156.0.8078.114-1~deb12u1 500
prometheus:
  Installed: (none)
  Candidate: (none)
`;

describe('OS tools for the tests', () => {
  it.each([
    ['chromium', 'tests/support/browser.ts'],
    ['promtool', 'tests/integration/admin-invariants.test.ts'],
  ])('%s: services:up checks the path and variable that %s reads', (name, testFile) => {
    const tool = osTools.find((entry) => entry.name === name);
    expect(tool).toBeDefined();
    const source = readFileSync(new URL(`../../${testFile}`, import.meta.url), 'utf8');
    expect(source).toContain(`process.env.${tool!.pathVariable} ?? '${tool!.defaultPath}'`);
  });

  it('takes the variable over the Debian path, and an empty variable as unset', () => {
    const chromium = osTools[0]!;
    expect(toolPath(chromium, {})).toBe('/usr/bin/chromium');
    expect(toolPath(chromium, { CHROMIUM_PATH: '' })).toBe('/usr/bin/chromium');
    expect(toolPath(chromium, { CHROMIUM_PATH: '/opt/chromium' })).toBe('/opt/chromium');
  });

  it('runs apt-get update only for a package the lists do not offer', () => {
    expect(packagesWithoutCandidate(policy, ['chromium'])).toEqual([]);
    expect(packagesWithoutCandidate(policy, ['chromium', 'prometheus'])).toEqual(['prometheus']);
    expect(packagesWithoutCandidate(policy, ['chromium', 'unknown-package'])).toEqual(['unknown-package']);
    expect(packagesWithoutCandidate('', ['chromium'])).toEqual(['chromium']);
  });

  it('prints a command that updates the lists first, with sudo unless root', () => {
    expect(installCommandLine(['chromium', 'prometheus'], 'sudo')).toBe(
      'sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium prometheus',
    );
    expect(installCommandLine(['prometheus'], 'root')).toBe(
      'apt-get update && apt-get install -y --no-install-recommends prometheus',
    );
  });

  it('finds a command on PATH only where an executable file of that name is', () => {
    expect(isOnPath('sh', { PATH: '/nonexistent:/bin' })).toBe(true);
    expect(isOnPath('sh', { PATH: '/nonexistent' })).toBe(false);
    expect(isOnPath('sh', {})).toBe(false);
  });

  it('runs apt-get directly as root', async () => {
    expect((await aptAccess(0)).access).toBe('root');
  });

  it('reports tools present at the paths the variables name, without apt-get', async () => {
    const result = await ensureOsTools(undefined, { CHROMIUM_PATH: '/bin/true', PROMTOOL_PATH: '/bin/sh' });
    expect(result).toEqual({ action: 'present', detail: '/bin/true, /bin/sh' });
  });

  it('fails naming the variable when it points at nothing, since apt-get cannot fix that', async () => {
    await expect(
      ensureOsTools(undefined, { CHROMIUM_PATH: '/nonexistent/chromium', PROMTOOL_PATH: '/bin/sh' }),
    ).rejects.toThrow('CHROMIUM_PATH=/nonexistent/chromium is not an executable');
  });
});

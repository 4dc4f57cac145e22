// The command line of `npm run chaos -- <scenario> [options]`, parsed into checked options.
import { faultKinds, scenarios, type FaultKind, type Scenario } from './schedule.ts';
import { freshSeed } from './prng.ts';

export interface RunOptions {
  scenario: Scenario;
  seed: number;
  durationMs: number;
  rate: number;
  buyers: number;
  drainMs: number;
  /** race: run with Redlock on, off, or both one after the other. */
  redlock: Array<'on' | 'off'>;
  /** all: the fault kinds drawn. */
  allKinds: FaultKind[];
  outDir: string;
}

export const usage = `usage: npm run chaos -- <${scenarios.join('|')}> [options]
  --seed N          replay a run (default: a fresh seed, printed)
  --duration 60s    how long load and faults last (s, m; default 60s)
  --rate R          orders per second (default 5)
  --buyers N        race: buyers of the last unit (default 1000)
  --redlock both    race: on, off or both (default both)
  --faults a,b      all: the fault kinds to mix (default ${faultKinds.join(',')})
  --drain 120s      the longest wait for the system to settle after the load
  --out DIR         where reports and logs go (default chaos-results)`;

export class UsageError extends Error {
  override name = 'UsageError';
}

/** "60s", "2m", "1500ms", "90" (seconds) -> milliseconds. */
export function parseDurationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (match === null) throw new UsageError(`not a duration: "${text}" (try 60s, 2m, 1500ms)`);
  const unit = { ms: 1, s: 1_000, m: 60_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm'];
  return Math.round(Number(match[1]) * unit);
}

function positiveNumber(name: string, text: string, max: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || value > max) throw new UsageError(`${name} must be in (0, ${max}]`);
  return value;
}

function flagValues(argv: string[]): { positional: string[]; flags: Map<string, string> } {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    flags.set(name, value);
  }
  return { positional, flags };
}

const known = new Set(['seed', 'duration', 'rate', 'buyers', 'redlock', 'faults', 'drain', 'out']);

export function parseArgs(argv: string[]): RunOptions {
  const { positional, flags } = flagValues(argv);
  const scenario = positional[0];
  if (scenario === undefined || !(scenarios as readonly string[]).includes(scenario)) {
    throw new UsageError(`unknown scenario "${scenario ?? ''}"`);
  }
  for (const name of flags.keys()) if (!known.has(name)) throw new UsageError(`unknown option --${name}`);
  const seedText = flags.get('seed');
  const seed = seedText === undefined ? freshSeed() : Number(seedText);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new UsageError('--seed must be an integer >= 0');
  const redlock = flags.get('redlock') ?? 'both';
  if (!['on', 'off', 'both'].includes(redlock)) throw new UsageError('--redlock must be on, off or both');
  const allKinds = (flags.get('faults') ?? faultKinds.join(',')).split(',').filter((k) => k.length > 0);
  const unknownKinds = allKinds.filter((k) => !(faultKinds as readonly string[]).includes(k));
  if (allKinds.length === 0 || unknownKinds.length > 0) {
    throw new UsageError(`--faults takes ${faultKinds.join(',')}; got "${flags.get('faults') ?? ''}"`);
  }
  return {
    scenario: scenario as Scenario,
    seed,
    durationMs: parseDurationMs(flags.get('duration') ?? '60s'),
    rate: positiveNumber('--rate', flags.get('rate') ?? '5', 500),
    buyers: Math.round(positiveNumber('--buyers', flags.get('buyers') ?? '1000', 100_000)),
    drainMs: parseDurationMs(flags.get('drain') ?? '120s'),
    redlock: redlock === 'both' ? ['on', 'off'] : [redlock as 'on' | 'off'],
    allKinds: allKinds as FaultKind[],
    outDir: flags.get('out') ?? 'chaos-results',
  };
}

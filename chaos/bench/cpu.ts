// CPU seconds per process group, read from /proc: each engine role's process, the PostgreSQL
// backends serving the bench database, the private Redis, the Kafka broker, and the whole machine.
// Sampled every second, because a pool closes idle connections and a backend's CPU leaves /proc
// with it: the last sample before it went is what it used.
import { readdirSync, readFileSync } from 'node:fs';

// USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux the project runs on.
const ticksPerSecond = 100;

/** utime + stime of a process, in ticks; null when it is gone. */
export function cpuTicksOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/** Busy ticks of the whole machine (every CPU, every process): /proc/stat less idle and iowait. */
export function machineBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
  return total - (values[3] ?? 0) - (values[4] ?? 0);
}

/** Pids whose command line contains `needle` (e.g. 'kafka.Kafka'), or whose name is `comm`. */
export function pidsMatching(match: { comm?: string; cmdline?: string }): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (match.comm !== undefined && readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== match.comm) continue;
      if (match.cmdline !== undefined && !readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(match.cmdline))
        continue;
      pids.push(Number(entry));
    } catch {
      // the process left while we looked
    }
  }
  return pids;
}

interface Tracked {
  group: string;
  first: number;
  last: number;
}

/**
 * Accumulates CPU per group over a window. A pid first seen before the window counts from its
 * value at start(); a pid that appears later (a new backend, a restarted worker) counts from 0,
 * since all of its CPU was spent inside the window.
 */
export class CpuMeter {
  private readonly tracked = new Map<number, Tracked>();
  private machineFirst = 0;
  private machineLast = 0;
  private started = false;

  /** Adds pids to a group; call it before start() for processes that already run. */
  track(group: string, pids: number[]): void {
    for (const pid of pids) {
      if (this.tracked.has(pid)) continue;
      const ticks = cpuTicksOf(pid);
      if (ticks === null) continue;
      this.tracked.set(pid, { group, first: this.started ? 0 : ticks, last: ticks });
    }
  }

  start(): void {
    for (const [pid, entry] of this.tracked) {
      const ticks = cpuTicksOf(pid);
      if (ticks !== null) entry.first = entry.last = ticks;
    }
    this.machineFirst = this.machineLast = machineBusyTicks();
    this.started = true;
  }

  sample(): void {
    for (const [pid, entry] of this.tracked) {
      const ticks = cpuTicksOf(pid);
      if (ticks !== null) entry.last = ticks;
    }
    this.machineLast = machineBusyTicks();
  }

  /** CPU seconds per group since start(), and the machine's busy CPU seconds. */
  seconds(): { groups: Record<string, number>; machine: number } {
    const groups: Record<string, number> = {};
    for (const entry of this.tracked.values()) {
      groups[entry.group] = (groups[entry.group] ?? 0) + (entry.last - entry.first) / ticksPerSecond;
    }
    return { groups, machine: (this.machineLast - this.machineFirst) / ticksPerSecond };
  }
}

// What every invariant check returns, and how its evidence is kept short enough to read.

export interface InvariantResult {
  name: string;
  pass: boolean;
  /** What was looked at: "412 orders", "6 products". */
  checked: string;
  /** On failure the rows that break it (order ids, amounts); on success the figures that hold. */
  evidence: string[];
}

export interface CheckScope {
  /** The orders the per-order checks look at (a run's own, or every order for `ledger`). */
  orderIds: string[];
  topic: string;
  brokers: string[];
  /** When set, each account's balance as the API reports it is compared with the entries. */
  api: { url: string; token: string } | null;
  /** The notifications consumer ran: a confirmed order must have its confirmation. */
  expectNotifications: boolean;
  /** Each order of the scope answers one client request of its own (a runner's load, not a live system). */
  onePerRequest: boolean;
}

const evidenceMax = 15;

/** Keeps the first lines and says how many were left out. */
export function bounded(lines: string[]): string[] {
  if (lines.length <= evidenceMax) return lines;
  return [...lines.slice(0, evidenceMax), `... and ${lines.length - evidenceMax} more`];
}

export function result(name: string, checked: string, problems: string[], figures: string[]): InvariantResult {
  return { name, pass: problems.length === 0, checked, evidence: bounded(problems.length > 0 ? problems : figures) };
}

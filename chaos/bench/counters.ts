// Server-side counters for the per-order costs: pg_stat_database (transactions, commits, rows),
// pg_stat_statements when the server loads it, and Redis INFO commandstats. Deltas over a window.
// Every read goes through the maintenance database, so the reads themselves do not count; the
// bench's own queries on the bench database go through one counted Monitor connection and are
// subtracted.
import pg from 'pg';
import type { Redis } from 'ioredis';

export interface DatabaseCounters {
  xact_commit: number;
  xact_rollback: number;
  tup_inserted: number;
  tup_updated: number;
  tup_deleted: number;
  /** pg_stat_statements: calls and time per statement text; null when the server lacks it. */
  statements: Map<string, { calls: number; totalMs: number }> | null;
}

/** The bench's own connection to the bench database; it counts its queries so they can be subtracted. */
export class Monitor {
  queries = 0;
  constructor(readonly client: pg.Client) {}

  static async connect(url: string): Promise<Monitor> {
    const client = new pg.Client({ connectionString: url, application_name: 'order-engine-bench-monitor' });
    await client.connect();
    return new Monitor(client);
  }

  async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    this.queries++;
    return this.client.query<R>(text, values);
  }

  /**
   * PostgreSQL 15 keeps a busy backend's counters for up to a second, and an idle one's for ten;
   * this makes the monitor's own land before a read, so the subtraction is exact.
   */
  async flushStats(): Promise<void> {
    await this.query('SELECT pg_stat_force_next_flush()');
  }
}

export class StatsReader {
  private hasStatements: boolean | null = null;
  private constructor(
    private readonly admin: pg.Client,
    readonly database: string,
  ) {}

  static async connect(maintenanceUrl: string, database: string): Promise<StatsReader> {
    const admin = new pg.Client({ connectionString: maintenanceUrl, application_name: 'order-engine-bench-stats' });
    await admin.connect();
    return new StatsReader(admin, database);
  }

  async close(): Promise<void> {
    await this.admin.end();
  }

  /** Client backends of the bench database, with their application name (the engine role). */
  async backends(): Promise<{ pid: number; application: string }[]> {
    const rows = await this.admin.query<{ pid: number; application_name: string }>(
      `SELECT pid, application_name FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'`,
      [this.database],
    );
    return rows.rows.map((r) => ({ pid: r.pid, application: r.application_name }));
  }

  /** Waits until only the given applications still hold connections (their exits flush counters). */
  async waitForBackendsToLeave(keep: string[], timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const left = (await this.backends()).filter((b) => !keep.includes(b.application));
      if (left.length === 0) return true;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
  }

  async statementsAvailable(): Promise<boolean> {
    if (this.hasStatements === null) {
      this.hasStatements = await this.admin.query('SELECT 1 FROM pg_stat_statements LIMIT 1').then(
        () => true,
        () => false,
      );
    }
    return this.hasStatements;
  }

  async databaseCounters(): Promise<DatabaseCounters> {
    const rows = await this.admin.query<Record<string, string>>(
      `SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted
         FROM pg_stat_database WHERE datname = $1`,
      [this.database],
    );
    const row = rows.rows[0];
    if (row === undefined) throw new Error(`pg_stat_database has no row for ${this.database}`);
    let statements: DatabaseCounters['statements'] = null;
    if (await this.statementsAvailable()) {
      const found = await this.admin.query<{ query: string; calls: string; total_ms: number }>(
        `SELECT query, sum(calls) AS calls, sum(total_exec_time) AS total_ms FROM pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1) GROUP BY query`,
        [this.database],
      );
      statements = new Map(found.rows.map((r) => [r.query, { calls: Number(r.calls), totalMs: Number(r.total_ms) }]));
    }
    return {
      xact_commit: Number(row.xact_commit),
      xact_rollback: Number(row.xact_rollback),
      tup_inserted: Number(row.tup_inserted),
      tup_updated: Number(row.tup_updated),
      tup_deleted: Number(row.tup_deleted),
      statements,
    };
  }
}

export interface DatabaseDelta {
  transactions: number;
  commits: number;
  rollbacks: number;
  rows_inserted: number;
  rows_updated: number;
  rows_deleted: number;
  statements: number | null;
  top_statements: { query: string; calls: number; total_ms: number }[] | null;
}

/** after - before, less the monitor's own queries (each one an autocommit transaction). */
export function databaseDelta(
  before: DatabaseCounters,
  after: DatabaseCounters,
  monitorQueries: number,
): DatabaseDelta {
  const commits = after.xact_commit - before.xact_commit - monitorQueries;
  const rollbacks = after.xact_rollback - before.xact_rollback;
  let statements: number | null = null;
  let top: DatabaseDelta['top_statements'] = null;
  if (before.statements !== null && after.statements !== null) {
    const deltas = [...after.statements].map(([query, now]) => {
      const then = before.statements!.get(query) ?? { calls: 0, totalMs: 0 };
      return { query: query.slice(0, 160), calls: now.calls - then.calls, total_ms: now.totalMs - then.totalMs };
    });
    statements = deltas.reduce((sum, d) => sum + d.calls, 0) - monitorQueries;
    top = deltas
      .filter((d) => d.calls > 0)
      .sort((a, b) => b.total_ms - a.total_ms)
      .slice(0, 40);
  }
  return {
    transactions: commits + rollbacks,
    commits,
    rollbacks,
    rows_inserted: after.tup_inserted - before.tup_inserted,
    rows_updated: after.tup_updated - before.tup_updated,
    rows_deleted: after.tup_deleted - before.tup_deleted,
    statements,
    top_statements: top,
  };
}

/** Calls per command from INFO commandstats (the bench's own INFO left out). */
export async function redisCommandCalls(redis: Redis): Promise<Map<string, number>> {
  const text = await redis.info('commandstats');
  const calls = new Map<string, number>();
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (match[1] !== 'info') calls.set(match[1]!, Number(match[2]));
  }
  return calls;
}

export function redisDelta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [command, calls] of after) {
    const d = calls - (before.get(command) ?? 0);
    if (d > 0) delta[command] = d;
  }
  return delta;
}

// The audit module's one table, audit_log: who did what to which order or product, when, and with
// what outcome. An action that runs in a transaction passes its client, so its row commits with it
// (or not at all); the table refuses UPDATE and DELETE (migration 012). Reads are keyset pages.
import type { Queryable } from '../platform/db.ts';
import type { Role } from '../platform/auth.ts';

export interface AuditEntry {
  /** The token's subject. */
  actor: string;
  actorRole: Role;
  /** Dotted, lower case: order.force_cancel, stock.set, session.login, ... */
  action: string;
  orderId?: string | null;
  productId?: string | null;
  /** Anything else acted on: a coupon code, a Bull Board path. */
  target?: string | null;
  /** `ok`, or the code that refused the action (order_not_cancellable, stock_conflict, http_404, ...). */
  outcome: string;
  detail?: Record<string, unknown>;
  correlationId?: string | null;
}

export interface AuditRow {
  id: string;
  at: Date;
  actor: string;
  actor_role: Role;
  action: string;
  order_id: string | null;
  product_id: string | null;
  target: string | null;
  outcome: string;
  detail: Record<string, unknown>;
  correlation_id: string | null;
}

/** Appends one entry. Inside a transaction, pass its client. */
export async function recordAudit(db: Queryable, entry: AuditEntry): Promise<void> {
  await db.query(
    `INSERT INTO audit_log (actor, actor_role, action, order_id, product_id, target, outcome, detail, correlation_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      entry.actor,
      entry.actorRole,
      entry.action,
      entry.orderId ?? null,
      entry.productId ?? null,
      entry.target ?? null,
      entry.outcome,
      JSON.stringify(entry.detail ?? {}),
      entry.correlationId ?? null,
    ],
  );
}

export interface AuditFilter {
  actor?: string | undefined;
  action?: string | undefined;
  orderId?: string | undefined;
  productId?: string | undefined;
  outcome?: string | undefined;
  after?: Date | undefined;
  before?: Date | undefined;
  limit: number;
  /** The id of the last row of the previous page. */
  afterId?: string | undefined;
}

export interface AuditPage {
  entries: AuditRow[];
  /** The id to pass as afterId for the next page, or null on the last page. */
  next: string | null;
}

/**
 * Newest first; every filter is optional and they combine with AND. The order is by the table's
 * bigint id (the output column `id` is text: ordering by it would put 9 after 10).
 */
export async function listAudit(db: Queryable, filter: AuditFilter): Promise<AuditPage> {
  const result = await db.query<AuditRow>(
    `SELECT id::text, at, actor, actor_role, action, order_id::text, product_id, target, outcome, detail, correlation_id
       FROM audit_log
      WHERE ($1::text IS NULL OR actor = $1)
        AND ($2::text IS NULL OR action = $2)
        AND ($3::uuid IS NULL OR order_id = $3)
        AND ($4::text IS NULL OR product_id = $4)
        AND ($5::text IS NULL OR outcome = $5)
        AND ($6::timestamptz IS NULL OR at >= $6)
        AND ($7::timestamptz IS NULL OR at < $7)
        AND ($8::bigint IS NULL OR id < $8)
      ORDER BY audit_log.id DESC
      LIMIT $9`,
    [
      filter.actor ?? null,
      filter.action ?? null,
      filter.orderId ?? null,
      filter.productId ?? null,
      filter.outcome ?? null,
      filter.after ?? null,
      filter.before ?? null,
      filter.afterId ?? null,
      filter.limit + 1,
    ],
  );
  const entries = result.rows.slice(0, filter.limit);
  const more = result.rows.length > filter.limit;
  return { entries, next: more ? (entries.at(-1)?.id ?? null) : null };
}

// The console's query and answer shapes: the orders list, the audit trail and the overview. Queries
// are strict (an unknown or malformed parameter is a 400 naming it); answers are parsed before
// they are sent, like every admin answer, and feed the OpenAPI document.
import { z } from 'zod';

const timestamp = z.string().datetime({ offset: true });
const orderStatuses = ['pending', 'confirmed', 'rejected', 'failed', 'expired', 'cancelling', 'cancelled'] as const;
const userId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . -');
const code = z.string().regex(/^[a-z0-9_]{1,64}$/, 'must be 1-64 characters of a-z 0-9 _');
const instant = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with an offset' });
export const consoleLimitMax = 200;
const limit = z
  .string()
  .regex(/^\d{1,4}$/, `must be an integer from 1 to ${consoleLimitMax}`)
  .transform(Number)
  .pipe(z.number().int().min(1, 'must be at least 1').max(consoleLimitMax, `must be at most ${consoleLimitMax}`))
  .optional()
  .transform((value) => value ?? 50);
const cursor = z
  .string()
  .max(200)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be a cursor returned by an earlier page')
  .optional();

/** created_before must come after created_after when both are given. */
function ordered<T extends { after?: string | undefined; before?: string | undefined }>(names: [string, string]) {
  return (value: T, context: z.RefinementCtx) => {
    if (value.after !== undefined && value.before !== undefined && Date.parse(value.before) <= Date.parse(value.after))
      context.addIssue({ code: 'custom', path: [names[1]], message: `must be after ${names[0]}` });
  };
}

/** GET /api/v1/admin/orders: `state` must be a state of the machine (given, from its definition). */
export function adminOrdersQuery(stateIds: readonly [string, ...string[]]) {
  return z
    .strictObject({
      status: z.enum(orderStatuses, { message: `must be one of ${orderStatuses.join(', ')}` }).optional(),
      state: z.enum(stateIds, { message: 'must be a state of the order machine' }).optional(),
      user_id: userId.optional(),
      failure_reason: code.optional(),
      created_after: instant.optional(),
      created_before: instant.optional(),
      q: z
        .string()
        .trim()
        .regex(/^[A-Za-z0-9_.-]{1,100}$/, 'must be an order id, a user id or a correlation id')
        .optional(),
      limit,
      cursor,
    })
    .superRefine((query, context) =>
      ordered(['created_after', 'created_before'])(
        { after: query.created_after, before: query.created_before },
        context,
      ),
    );
}

export const orderListItemSchema = z.strictObject({
  id: z.uuid(),
  status: z.string(),
  state: z.string(),
  failure_reason: z.string().nullable(),
  user_id: z.string(),
  currency: z.string(),
  total: z.string(),
  created_at: timestamp,
  updated_at: timestamp,
  finalized_at: timestamp.nullable(),
  /** Seconds since the order's last transition: how long it has been in its state. */
  in_state_seconds: z.number(),
});

export const orderListResponseSchema = z.strictObject({
  orders: z.array(orderListItemSchema),
  next_cursor: z.string().nullable(),
});

export const auditQuery = z
  .strictObject({
    actor: userId.optional(),
    action: z
      .string()
      .regex(/^[a-z][a-z_]*(\.[a-z_]+)*$/, 'must be an action name such as order.force_cancel')
      .max(64)
      .optional(),
    order_id: z.uuid('must be a UUID').optional(),
    product_id: userId.optional(),
    outcome: code.optional(),
    after: instant.optional(),
    before: instant.optional(),
    limit,
    cursor,
  })
  .superRefine(ordered(['after', 'before']));

export const auditEntrySchema = z.strictObject({
  id: z.string(),
  at: timestamp,
  actor: z.string(),
  actor_role: z.enum(['admin', 'viewer', 'customer']),
  action: z.string(),
  order_id: z.uuid().nullable(),
  product_id: z.string().nullable(),
  target: z.string().nullable(),
  outcome: z.string(),
  detail: z.record(z.string(), z.unknown()),
  correlation_id: z.string().nullable(),
});

export const auditPageSchema = z.strictObject({
  entries: z.array(auditEntrySchema),
  next_cursor: z.string().nullable(),
});

const boardUrl = z.string().describe("the job's page on Bull Board");

export const overviewResponseSchema = z.strictObject({
  generated_at: timestamp,
  fleet: z.strictObject({
    in_flight: z.number().int(),
    /** Live: in-flight orders per state (states with none are left out). */
    states: z.array(z.strictObject({ state: z.string(), count: z.number().int() })),
    /** Orders per status, from the last invariant check. */
    by_status: z.record(z.string(), z.number().int()),
  }),
  invariants: z.strictObject({
    checked_at: timestamp.nullable(),
    all_hold: z.boolean().nullable(),
    checks: z.array(z.strictObject({ invariant: z.string(), holds: z.boolean() })),
  }),
  stuck: z.strictObject({
    listed_max: z.number().int(),
    orders: z.array(z.strictObject({ id: z.uuid(), state: z.string(), age_seconds: z.number() })),
  }),
  dead_letters: z.strictObject({
    by_queue: z.array(z.strictObject({ queue: z.string(), count: z.number().int() })),
    recent: z.array(
      z.strictObject({
        id: z.string(),
        queue: z.string(),
        job_id: z.string(),
        order_id: z.string().nullable(),
        error: z.string(),
        created_at: timestamp,
        board_url: boardUrl,
      }),
    ),
  }),
  parked: z.strictObject({
    listed_max: z.number().int(),
    rows: z.array(
      z.strictObject({
        id: z.string(),
        type: z.string(),
        destination: z.string(),
        order_id: z.string(),
        attempts: z.number().int(),
        last_error: z.string().nullable(),
        parked_at: timestamp,
      }),
    ),
  }),
});

export type OrderListItem = z.infer<typeof orderListItemSchema>;
export type AuditEntryView = z.infer<typeof auditEntrySchema>;
export type OverviewResponse = z.infer<typeof overviewResponseSchema>;

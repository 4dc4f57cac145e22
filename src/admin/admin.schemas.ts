// The admin JSON's shapes, as zod schemas: every answer is parsed by its schema before it is
// sent (a drifting answer is a bug that fails loudly in tests), and the schemas document the
// endpoints (and feed the OpenAPI document where one is built).
import { z } from 'zod';
import { auditEntrySchema } from './console.schemas.ts';
import { text } from '../api/validation.ts';

const timestamp = z.string().datetime({ offset: true });

export const machineStateSchema = z.strictObject({
  id: z.string(),
  label: z.string(),
  kind: z.enum(['atomic', 'compound', 'parallel', 'final', 'history']),
  compensation: z.boolean(),
  initial: z.boolean(),
  parent: z.string().nullable(),
});

export const machineTransitionSchema = z.strictObject({
  id: z.string(),
  source: z.string(),
  target: z.string(),
  event: z.string(),
  guard: z.string().nullable(),
  label: z.string(),
});

/** Bull Board's page of a job: /admin/queues/queue/<queue>/<job id>. */
const boardUrl = z.string().describe("the job's page on Bull Board");

export const jobFactSchema = z.strictObject({
  id: z.string(),
  queue: z.string(),
  state: z.string(),
  attempts_made: z.number().int(),
  /** The job's attempts before it is dead-lettered. */
  attempts_max: z.number().int(),
  /** BullMQ's record of the last failed attempt. */
  failed_reason: z.string().nullable(),
  /** When a delayed job (a retry waiting out its backoff) runs next; null otherwise. */
  next_attempt_at: timestamp.nullable(),
  board_url: boardUrl,
});

export const awaitedMessageSchema = z.strictObject({
  message_id: z.string(),
  type: z.string(),
  destination: z.string(),
  due_at: timestamp,
  /** The outbox row's last delivery error, if any. */
  last_error: z.string().nullable(),
  job: jobFactSchema.nullable(),
});

export const stuckOrderSchema = z.strictObject({
  id: z.uuid(),
  status: z.string(),
  state: z.string(),
  since: timestamp,
  age_seconds: z.number(),
  last_transition: z
    .strictObject({ seq: z.number().int(), event_type: z.string(), message_id: z.string(), at: timestamp })
    .nullable(),
  waiting_for: z.array(awaitedMessageSchema),
});

export const machineResponseSchema = z.strictObject({
  machine: z.strictObject({
    id: z.string(),
    states: z.array(machineStateSchema),
    transitions: z.array(machineTransitionSchema),
  }),
  fleet: z.strictObject({
    generated_at: timestamp,
    stuck_after_ms: z.number().int(),
    /** Every state of the machine: in-flight counts live, final counts from the periodic check. */
    states: z.array(
      z.strictObject({ state: z.string(), count: z.number().int(), oldest_age_seconds: z.number().nullable() }),
    ),
    final_counts_at: timestamp.nullable(),
    stuck: z.array(stuckOrderSchema),
  }),
});

export const outboxFactSchema = z.strictObject({
  message_id: z.string(),
  destination: z.string(),
  type: z.string(),
  created_at: timestamp,
  due_at: timestamp,
  published_at: timestamp.nullable(),
  swept_at: timestamp.nullable(),
  processed_at: timestamp.nullable(),
  parked_at: timestamp.nullable(),
  attempts: z.number().int(),
  last_error: z.string().nullable(),
});

export const timelineStepSchema = z.strictObject({
  seq: z.number().int(),
  from_state: z.string().nullable(),
  to_state: z.string(),
  event_type: z.string(),
  message_id: z.string(),
  at: timestamp,
  /** Time the order then spent in to_state; null while it is still there. */
  time_in_state_ms: z.number().int().nullable(),
  kind: z.enum(['progress', 'failure', 'compensation', 'final']),
  reason: z.string().nullable(),
  /** The message that caused the step, as the outbox recorded it (null if pruned or never in the outbox). */
  cause: outboxFactSchema.nullable(),
  /** The rows this step wrote to the outbox: commands, timers and events. */
  sent: z.array(outboxFactSchema),
});

export const deadLetterSchema = z.strictObject({
  id: z.string(),
  queue: z.string(),
  job_id: z.string(),
  message_id: z.string().nullable(),
  error: z.string(),
  attempts: z.number().int(),
  created_at: timestamp,
  board_url: boardUrl,
});

/** An event the order produced for Kafka, as its outbox row says. */
export const orderEventSchema = z.strictObject({
  message_id: z.string(),
  type: z.string(),
  topic: z.string(),
  created_at: timestamp,
  published: z.boolean(),
  published_at: timestamp.nullable(),
  parked_at: timestamp.nullable(),
  attempts: z.number().int(),
  last_error: z.string().nullable(),
});

export const timelineResponseSchema = z.strictObject({
  order: z.strictObject({
    id: z.uuid(),
    status: z.string(),
    state: z.string(),
    failure_reason: z.string().nullable(),
    user_id: z.string(),
    currency: z.string(),
    items: z.array(z.strictObject({ product_id: z.string(), quantity: z.number().int(), unit_price: z.string() })),
    subtotal: z.string(),
    discount: z.string(),
    total: z.string(),
    coupon_code: z.string().nullable(),
    shipping_address: z.record(z.string(), z.unknown()),
    correlation_id: z.string(),
    version: z.number().int(),
    created_at: timestamp,
    updated_at: timestamp,
    finalized_at: timestamp.nullable(),
    cancellable: z.boolean(),
    /** While the order is in needs_attention: the undo that failed and why (resolve it with POST .../resolve). */
    attention: z.strictObject({ step: z.string(), command: z.string(), reason: z.string() }).nullable(),
  }),
  path: z.array(z.string()),
  transitions: z.array(timelineStepSchema),
  waiting_for: z.array(awaitedMessageSchema),
  dead_letters: z.array(deadLetterSchema),
  events: z.array(orderEventSchema),
  /** Operator actions on this order, newest first (at most 50). */
  audit: z.array(auditEntrySchema),
});

export const resolveActions = ['retry', 'mark_compensated'] as const;

/** POST /api/v1/admin/orders/{id}/resolve: what the operator does with an order in needs_attention. */
export const resolveRequestSchema = z.strictObject({
  action: z.enum(resolveActions, { message: `must be one of ${resolveActions.join(', ')}` }),
  /** Why, in the operator's words: kept in the audit trail and in the order's transition. */
  note: text(1000),
});

export const resolveResponseSchema = z.strictObject({
  id: z.uuid(),
  action: z.enum(resolveActions),
  status: z.string(),
  state: z.string(),
  dead_letters_dropped: z.array(z.string()),
});

export const redriveResponseSchema = z.strictObject({ order_id: z.uuid(), redriven: z.number().int() });

export type MachineResponse = z.infer<typeof machineResponseSchema>;
export type TimelineResponse = z.infer<typeof timelineResponseSchema>;
export type TimelineStep = z.infer<typeof timelineStepSchema>;
export type AwaitedMessage = z.infer<typeof awaitedMessageSchema>;
export type JobFact = z.infer<typeof jobFactSchema>;
export type DeadLetterView = z.infer<typeof deadLetterSchema>;
export type OrderEvent = z.infer<typeof orderEventSchema>;

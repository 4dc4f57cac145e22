// The admin JSON's shapes, as zod schemas: every answer is parsed by its schema before it is
// sent (a drifting answer is a bug that fails loudly in tests), and the schemas document the
// endpoints (and feed the OpenAPI document where one is built).
import { z } from 'zod';

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

export const jobFactSchema = z.strictObject({
  id: z.string(),
  queue: z.string(),
  state: z.string(),
  attempts_made: z.number().int(),
  failed_reason: z.string().nullable(),
});

export const awaitedMessageSchema = z.strictObject({
  message_id: z.string(),
  type: z.string(),
  destination: z.string(),
  due_at: timestamp,
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
  dispatched_at: timestamp.nullable(),
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
});

export const timelineResponseSchema = z.strictObject({
  order: z.strictObject({
    id: z.uuid(),
    status: z.string(),
    state: z.string(),
    failure_reason: z.string().nullable(),
    created_at: timestamp,
    updated_at: timestamp,
    finalized_at: timestamp.nullable(),
    cancellable: z.boolean(),
  }),
  path: z.array(z.string()),
  transitions: z.array(timelineStepSchema),
  waiting_for: z.array(awaitedMessageSchema),
  dead_letters: z.array(deadLetterSchema),
});

export const redriveResponseSchema = z.strictObject({ order_id: z.uuid(), redriven: z.number().int() });

export type MachineResponse = z.infer<typeof machineResponseSchema>;
export type TimelineResponse = z.infer<typeof timelineResponseSchema>;
export type TimelineStep = z.infer<typeof timelineStepSchema>;
export type AwaitedMessage = z.infer<typeof awaitedMessageSchema>;

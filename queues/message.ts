// The envelope every BullMQ job carries, whatever its queue. The sender makes the message id;
// it is also the BullMQ jobId, and the receiver's inbox drops a second delivery of it.
import { z } from 'zod';

export const moneyString = z.string().regex(/^\d{1,16}(\.\d{1,4})?$/, 'must be a decimal string');
export const currencyCode = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code');

export const messageSchema = z.object({
  messageId: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[^:]+$/, 'must not contain ":" (BullMQ job ids)'),
  orderId: z.uuid(),
  correlationId: z.string().min(1).max(200),
  type: z.string().min(1).max(100),
  payload: z.record(z.string(), z.unknown()),
});

export type Message = z.infer<typeof messageSchema>;

/** A message on its way out, as an outbox row: to a queue or to a Kafka topic. */
export interface OutgoingMessage extends Message {
  destination: `queue:${string}` | `kafka:${string}`;
  delayMs?: number;
  headers?: Record<string, string>;
}

/**
 * The jobId rule: one message id per (order, message type), so a re-sent command keeps its id and
 * a second delivery is a duplicate by construction. BullMQ forbids ':' in job ids; '.' separates.
 */
export function messageIdFor(orderId: string, type: string): string {
  return `${orderId}.${type}`;
}

/** Builds the message a module sends to another module's queue, in answer to `cause`. */
export function answer(
  cause: Pick<Message, 'orderId' | 'correlationId'>,
  queue: string,
  type: string,
  payload: Record<string, unknown> = {},
): OutgoingMessage {
  return {
    messageId: messageIdFor(cause.orderId, type),
    orderId: cause.orderId,
    correlationId: cause.correlationId,
    type,
    payload,
    destination: `queue:${queue}`,
  };
}

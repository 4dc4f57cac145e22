// Reads one Kafka message value of the topic order-events into the event envelope contract.
// Pure: a value that breaks the contract is a result, not an exception, so the consumer can log
// it and move on instead of blocking its partition.
import { z } from 'zod';
import { eventSchemaVersion, isOrderEventType, type OrderEventEnvelope } from '../../queues/order-events.ts';

export type MalformedReason =
  'empty' | 'not_json' | 'not_an_object' | 'unsupported_schema_version' | 'invalid_envelope' | 'unknown_type';

export type EnvelopeParse =
  { ok: true; envelope: OrderEventEnvelope } | { ok: false; reason: MalformedReason; detail: string };

// order_id must be a value PostgreSQL's uuid accepts: a message that parses here can never fail
// the inbox insert for its content, so a retry loop on it is always an outage, never a poison pill.
const envelopeSchema = z.object({
  id: z.string().min(1).max(200),
  type: z.string().min(1).max(100),
  order_id: z.guid(),
  occurred_at: z.iso.datetime({ offset: true }),
  schema_version: z.literal(eventSchemaVersion),
  data: z.record(z.string(), z.unknown()),
});

const malformed = (reason: MalformedReason, detail: string): EnvelopeParse => ({ ok: false, reason, detail });

export function parseEnvelope(value: Buffer | null): EnvelopeParse {
  if (value === null || value.length === 0) return malformed('empty', 'the message has no value');
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (error) {
    return malformed('not_json', (error as Error).message);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return malformed('not_an_object', `the value is ${Array.isArray(json) ? 'an array' : typeof json}`);
  }
  // Checked before the shape: a later version may change the shape, and should be named as such.
  const version = (json as { schema_version?: unknown }).schema_version;
  if (version !== eventSchemaVersion) {
    return malformed('unsupported_schema_version', `schema_version ${JSON.stringify(version)}`);
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return malformed('invalid_envelope', `${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'invalid'}`);
  }
  const { type, ...rest } = parsed.data;
  if (!isOrderEventType(type)) return malformed('unknown_type', `type ${JSON.stringify(type)}`);
  return { ok: true, envelope: { ...rest, type } };
}

// How the relay reads kafkajs's errors: an outage is waited out, a lost producer state gets a new
// producer, anything else may be a poison row. Built from kafkajs's own error classes, with the
// protocol errors a restarted broker answered in the chaos runner's kafka scenario.
import { describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { isOutage, isProducerStateLost } from '../../src/relay/relay.ts';

const { KafkaJSProtocolError, KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSAggregateError } =
  kafkajs as unknown as Record<string, new (...args: unknown[]) => Error>;

function protocolError(type: string, retriable: boolean): Error {
  return new KafkaJSProtocolError!({ message: type, type, code: 45, retriable } as unknown as Error);
}

describe('relay error classes', () => {
  it('treats a lost producer state as an outage that needs a new producer', () => {
    const outOfOrder = protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER', false);
    expect(isProducerStateLost(outOfOrder)).toBe(true);
    expect(isOutage(outOfOrder)).toBe(true);
    const wrapped = new KafkaJSNumberOfRetriesExceeded!(outOfOrder, { retryCount: 5, retryTime: 2_000 });
    expect(isProducerStateLost(wrapped)).toBe(true);
    const aggregate = new KafkaJSAggregateError!('send failed', [protocolError('UNKNOWN_PRODUCER_ID', false)]);
    expect(isProducerStateLost(aggregate)).toBe(true);
  });

  it('waits out a broker that is away, without a new producer', () => {
    const refused = new KafkaJSConnectionError!('Connection error: connect ECONNREFUSED', { broker: 'b:9092' });
    expect(isOutage(refused)).toBe(true);
    expect(isProducerStateLost(refused)).toBe(false);
  });

  it('leaves a refusal of the content to the poison path', () => {
    const tooLarge = protocolError('MESSAGE_TOO_LARGE', false);
    expect(isOutage(tooLarge)).toBe(false);
    expect(isProducerStateLost(tooLarge)).toBe(false);
  });
});

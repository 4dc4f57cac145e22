// How long Kafka can hand an event of the order-events topic to a consumer again: while the event
// is in the topic's log. Kafka deletes a segment once its newest record is older than retention.ms,
// and a segment takes new records for up to segment.ms, so a record can stay readable for
// retention.ms + segment.ms. A compacted topic keeps each key's last record for ever.
// kafkajs is CommonJS, and Node's ESM loader finds only some of its names: ConfigResourceTypes is
// reached through the default export (a named import works under vitest and fails under tsx).
import kafkajs, { type Kafka } from 'kafkajs';

/** The topic's redelivery window in ms; null when the topic keeps records for ever. */
export type TopicWindow = { redeliverableMs: number } | { redeliverableMs: null; reason: string };

export async function readTopicWindow(kafka: Kafka, topic: string): Promise<TopicWindow> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        {
          type: kafkajs.ConfigResourceTypes.TOPIC,
          name: topic,
          configNames: ['retention.ms', 'segment.ms', 'cleanup.policy'],
        },
      ],
    });
    const resource = described.resources[0];
    if (resource === undefined || resource.errorCode !== 0) {
      throw new Error(`cannot read the configuration of topic ${topic}: ${resource?.errorMessage ?? 'no answer'}`);
    }
    const value = (name: string) => resource.configEntries.find((e) => e.configName === name)?.configValue;
    return topicWindowOf(value('retention.ms'), value('segment.ms'), value('cleanup.policy'));
  } finally {
    await admin.disconnect();
  }
}

/** The window from the topic's settings as Kafka reports them (strings). */
export function topicWindowOf(
  retentionMs: string | undefined,
  segmentMs: string | undefined,
  cleanupPolicy: string | undefined,
): TopicWindow {
  if (cleanupPolicy?.split(',').includes('compact')) return { redeliverableMs: null, reason: 'the topic is compacted' };
  const retention = Number(retentionMs);
  const segment = Number(segmentMs);
  if (!Number.isSafeInteger(retention) || !Number.isSafeInteger(segment)) {
    throw new Error(`unreadable topic settings: retention.ms=${retentionMs} segment.ms=${segmentMs}`);
  }
  if (retention < 0) return { redeliverableMs: null, reason: 'the topic keeps records for ever (retention.ms=-1)' };
  return { redeliverableMs: retention + segment };
}

/**
 * Why notification_inbox may not be pruned with this window, as one line naming the setting; null
 * when it may.
 */
export function notificationWindowProblem(settingMs: number, topic: string, window: TopicWindow): string | null {
  if (window.redeliverableMs === null) {
    return `notification_inbox is not pruned: ${window.reason} (topic ${topic}), so any event may come again`;
  }
  if (settingMs < window.redeliverableMs) {
    return (
      `notification_inbox is not pruned: NOTIFICATION_INBOX_RETENTION_MS=${settingMs} is shorter than ` +
      `topic ${topic}'s retention.ms + segment.ms (${window.redeliverableMs})`
    );
  }
  return null;
}

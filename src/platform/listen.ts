// LISTEN on a dedicated PostgreSQL connection, for whoever is told of commits: the relay (rows for
// Kafka) and the API's order waiter (status changes). A notification is a hint, never the truth:
// each listener keeps a poll as its backstop.
import pg from 'pg';
import { sleep } from './db.ts';
import type { Logger } from './logger.ts';
import { outages } from './outage.ts';

const listenRetryMsMin = 200;
const listenRetryMsMax = 5_000;

export interface Listener {
  close(): Promise<void>;
  connected(): boolean;
}

/**
 * LISTENs on `channel`. When the connection ends (a server restart, a backend terminated), it
 * reconnects with a bounded backoff and LISTENs again; the listener's poll covers the gap, and one
 * call of onNotify with no payload after each (re)connect says that something may have been missed.
 */
export function listen(
  connectionString: string,
  channel: string,
  logger: Logger,
  onNotify: (payload?: string) => void,
  applicationName: string,
): Listener {
  if (!/^[a-z_]+$/.test(channel)) throw new Error(`not a channel name: ${channel}`);
  let client: pg.Client | null = null;
  let closed = false;
  let connecting = false;
  const dependency = 'postgres listen';
  const reconnect = () => {
    client = null;
    if (closed || connecting) return;
    connecting = true;
    void connectLoop().finally(() => {
      connecting = false;
    });
  };
  const connectLoop = async () => {
    for (let retryMs = listenRetryMsMin; !closed; retryMs = Math.min(retryMs * 2, listenRetryMsMax)) {
      const candidate = new pg.Client({ connectionString, application_name: applicationName, keepAlive: true });
      // Every failure of this connection arrives here or as 'end'; neither may crash the process.
      candidate.on('error', (error) => outages.down(dependency, error));
      try {
        await candidate.connect();
        await candidate.query(`LISTEN ${channel}`);
      } catch (error) {
        outages.down(dependency, error);
        await candidate.end().catch(() => undefined);
        await sleep(retryMs);
        continue;
      }
      if (closed) {
        await candidate.end().catch(() => undefined);
        return;
      }
      candidate.on('notification', (message) => onNotify(message.payload));
      candidate.once('end', () => {
        if (client === candidate) reconnect();
      });
      client = candidate;
      outages.up(dependency);
      logger.debug({ channel }, 'listening');
      onNotify(); // what was committed while nobody listened
      return;
    }
  };
  reconnect();
  return {
    connected: () => client !== null,
    async close() {
      closed = true;
      const current = client;
      client = null;
      await current?.end().catch(() => undefined);
    },
  };
}

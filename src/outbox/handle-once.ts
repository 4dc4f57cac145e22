// The shape of every module's message handler: effect, inbox row and answers in one transaction,
// then the fast-path dispatch. A message seen before changes nothing and answers nothing.
import { withTransaction, type Client, type Pool, type TransactionOptions } from '../platform/db.ts';
import type { Message, OutgoingMessage } from '../../queues/message.ts';
import type { Dispatcher } from './dispatcher.ts';
import { claimInbox, insertOutbox } from './outbox.sql.ts';

export interface HandleOnceDeps {
  pool: Pool;
  dispatcher: Dispatcher;
  transaction?: TransactionOptions;
}

export type Effect = (client: Client) => Promise<OutgoingMessage[]>;

/** Returns false when the message was a duplicate. */
export async function handleOnce(
  deps: HandleOnceDeps,
  consumer: string,
  message: Message,
  effect: Effect,
): Promise<boolean> {
  const rows = await withTransaction(
    deps.pool,
    async (client) => {
      if (!(await claimInbox(client, consumer, message.messageId))) return null;
      return insertOutbox(client, await effect(client));
    },
    deps.transaction,
  );
  if (rows === null) return false;
  await deps.dispatcher.dispatch(rows);
  return true;
}

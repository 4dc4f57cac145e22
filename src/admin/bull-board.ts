// Bull Board at /admin/queues over every queue of the engine: the five module queues and the
// relay's outbox-relay. Retrying or removing a job from here is safe: a message's receiver
// records it in its inbox in the transaction of its effect, so a second run changes nothing, and
// a removed job whose message was never processed is handed over again by the sweeper.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { Router } from 'express';

export const bullBoardBasePath = '/admin/queues';

export function bullBoardRouter(queues: readonly Queue[]): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(bullBoardBasePath);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: false, allowRetries: true })),
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: 'Order engine',
        hideDocsLink: true,
        miscLinks: [
          { text: 'State machine', url: '/admin/machine' },
          { text: 'Log out', url: '/admin/logout' },
        ],
      },
    },
  });
  return serverAdapter.getRouter() as Router;
}

// Bull Board at /admin/queues over every queue of the engine: the five module queues and the
// relay's outbox-relay. Retrying or removing a job from here is safe: a message's receiver
// records it in its inbox in the transaction of its effect, so a second run changes nothing, and
// a removed job whose message was never processed is handed over again by the sweeper.
// Two boards over the same queues: an admin's, and a read-only one for viewers (no action
// buttons; the guard refuses their writes anyway). The page is served without the web font its
// template links from Google, so no request leaves the host and no operator's address leaks.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { NextFunction, Request, Response, Router } from 'express';

export const bullBoardBasePath = '/admin/queues';

function board(queues: readonly Queue[], readOnlyMode: boolean): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(bullBoardBasePath);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode, allowRetries: !readOnlyMode })),
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: readOnlyMode ? 'Order engine (read-only)' : 'Order engine',
        hideDocsLink: true,
        miscLinks: [
          { text: 'Overview', url: '/admin' },
          { text: 'Orders', url: '/admin/orders' },
          { text: 'State machine', url: '/admin/machine' },
          { text: 'Log out', url: '/admin/logout' },
        ],
      },
    },
  });
  return serverAdapter.getRouter() as Router;
}

/** Drops every <link> to another host from a page (Bull Board's Google font): the page falls back to local fonts. */
export function withoutRemoteLinks(html: string): string {
  return html.replace(/<link\b[^>]*\bhref="(?:https?:)?\/\/[^"]*"[^>]*>\s*/gi, '');
}

/**
 * Bull Board renders its page with res.render; this renders it the same way, then sends it
 * without remote links. Its JSON API and static files pass untouched.
 */
function offlinePage(_req: Request, res: Response, next: NextFunction): void {
  const render = res.render.bind(res);
  res.render = ((view: string, options?: object) => {
    render(view, options ?? {}, (error: Error | null, html?: string) => {
      if (error !== null) return next(error);
      res.type('html').send(withoutRemoteLinks(html ?? ''));
    });
  }) as Response['render'];
  next();
}

/** Mount behind the admin guard: each operator gets the board of their role. */
export function bullBoardRouter(queues: readonly Queue[]): (req: Request, res: Response, next: NextFunction) => void {
  const forAdmins = board(queues, false);
  const forViewers = board(queues, true);
  return (req, res, next) => {
    offlinePage(req, res, (error?: unknown) => {
      if (error !== undefined) return next(error);
      (req.admin?.role === 'admin' ? forAdmins : forViewers)(req, res, next);
    });
  };
}

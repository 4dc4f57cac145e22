// The visualizer: the page at /admin/machine (the machine's SVG drawn once, then live counts,
// stuck orders and one order's complete view from the JSON endpoints), and the admin actions of
// the order view: force-cancel (the order service's requestCancel, as an operator), redrive of
// the order's dead letters, and resolve of an order in needs_attention. Each goes through its
// module and leaves an audit row: force-cancel's and resolve's in their own transaction, the
// redrive's once it is done (it has none).
import { Router, type RequestHandler } from 'express';
import type { Queue } from 'bullmq';
import { correlationIdOf } from '../api/orders.routes.ts';
import { sendError } from '../api/errors.ts';
import { actorOf, forceCancelRecorder, outcomeOf } from '../audit/audit.actions.ts';
import { recordAudit } from '../audit/audit.sql.ts';
import { redriveDeadLetters } from '../messaging/dead-letters.ts';
import type { AdminCore } from './admin.deps.ts';
import { requestCancel, type OrderServiceDeps } from '../orders/order.service.ts';
import { resolveAttention } from '../orders/order.resolve.ts';
import { bodyOf, handle, operatorOf, orderIdOf } from './admin.http.ts';
import {
  machineResponseSchema,
  redriveResponseSchema,
  resolveRequestSchema,
  resolveResponseSchema,
  timelineResponseSchema,
} from './admin.schemas.ts';
import type { MachineGraph } from './machine.graph.ts';
import { machinePage } from './machine.page.ts';
import { renderMachineSvg } from './machine.svg.ts';
import { deadLettersOfOrder } from '../messaging/messaging.queries.ts';
import { fleetView, type ViewDeps } from './machine.view.ts';
import { orderDetailView } from './order-detail.view.ts';

export interface MachineRouterDeps {
  core: AdminCore;
  queues: ReadonlyMap<string, Queue>;
  guard: RequestHandler;
  graph: MachineGraph;
  view: ViewDeps;
}

export function machineRouter(deps: MachineRouterDeps): Router {
  const router = Router();
  viewRoutes(router, deps);
  actionRoutes(router, deps);
  return router;
}

/** The page, the fleet and one order's complete view. */
function viewRoutes(router: Router, { core, guard, graph, view }: MachineRouterDeps): void {
  // ELK takes about a second cold: lay the machine out once, on first use.
  let svg: Promise<string> | null = null;
  router.get(
    '/admin/machine',
    guard,
    handle(async (req, res) => {
      svg ??= renderMachineSvg(graph);
      res.setHeader('Cache-Control', 'no-store');
      res.type('html').send(machinePage(await svg, core.config.ADMIN_STUCK_AFTER_MS, req.admin));
    }),
  );
  router.get(
    '/api/v1/admin/machine',
    guard,
    handle(async (_req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.json(machineResponseSchema.parse(await fleetView(view)));
    }),
  );
  router.get(
    '/api/v1/admin/orders/:id/timeline',
    guard,
    handle(async (req, res) => {
      const id = orderIdOf(req, res);
      if (id === null) return;
      const detail = await orderDetailView(view, id);
      if (detail === null) return sendError(res, { code: 'order_not_found', field: 'id', message: `no order ${id}` });
      res.setHeader('Cache-Control', 'no-store');
      res.json(timelineResponseSchema.parse(detail));
    }),
  );
}

/** The operator's actions on one order: force-cancel and redrive, each audited. */
function actionRoutes(router: Router, { core, queues, guard }: MachineRouterDeps): void {
  const orderService = {
    pool: core.pool,
    dispatcher: core.dispatcher,
    transaction: core.transaction,
    topic: core.config.KAFKA_TOPIC_ORDER_EVENTS,
    reservationTtlMs: core.config.RESERVATION_TTL_MS,
    paymentDeadlineMs: core.config.PAYMENT_DEADLINE_MS,
  };
  router.post(
    '/api/v1/admin/orders/:id/cancel',
    guard,
    handle(async (req, res) => {
      const id = orderIdOf(req, res);
      if (id === null) return;
      const correlationId = correlationIdOf(req);
      const audit = forceCancelRecorder(operatorOf(req), id, correlationId, { via: 'console' });
      const result = await requestCancel(orderService, id, correlationId, 'cancelled_by_operator', audit);
      if (!result.ok) return sendError(res, result.error);
      res.status(202).json({ id, status: result.value.status, state: result.value.state, cancel: 'requested' });
    }),
  );
  router.post(
    '/api/v1/admin/orders/:id/redrive',
    guard,
    handle(async (req, res) => {
      const id = orderIdOf(req, res);
      if (id === null) return;
      const letters = await deadLettersOfOrder(core.pool, id);
      const ids = letters.map((d) => d.id);
      const redriven = await redriveDeadLetters(core.pool, queues, ids);
      await recordAudit(core.pool, {
        ...actorOf(operatorOf(req)),
        action: 'order.redrive',
        orderId: id,
        outcome: 'ok',
        detail: { dead_letters: ids, redriven },
        correlationId: correlationIdOf(req),
      });
      res.json(redriveResponseSchema.parse({ order_id: id, redriven }));
    }),
  );
  resolveRoute(router, guard, orderService);
}

/** Resolve an order in needs_attention: retry the failed undo, or mark it compensated by hand. */
function resolveRoute(router: Router, guard: RequestHandler, orderService: OrderServiceDeps): void {
  router.post(
    '/api/v1/admin/orders/:id/resolve',
    guard,
    handle(async (req, res) => {
      const id = orderIdOf(req, res);
      if (id === null) return;
      const body = bodyOf(resolveRequestSchema, req, res);
      if (body === null) return;
      const who = operatorOf(req);
      const correlationId = correlationIdOf(req);
      const result = await resolveAttention(
        orderService,
        id,
        { ...body, operator: who.userId },
        correlationId,
        (client, outcome) =>
          recordAudit(client, {
            ...actorOf(who),
            action: 'order.resolve',
            orderId: id,
            outcome: outcomeOf(outcome),
            detail: {
              action: body.action,
              note: body.note,
              ...(outcome.ok
                ? { status: outcome.value.status, dead_letters_dropped: outcome.value.deadLettersDropped }
                : {}),
            },
            correlationId,
          }),
      );
      if (!result.ok) return sendError(res, result.error);
      const { status, state, deadLettersDropped } = result.value;
      res.json(
        resolveResponseSchema.parse({
          id,
          action: body.action,
          status,
          state,
          dead_letters_dropped: deadLettersDropped,
        }),
      );
    }),
  );
}

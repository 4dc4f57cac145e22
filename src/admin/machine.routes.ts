// The visualizer: the page at /admin/machine (the machine's SVG drawn once, then live counts,
// stuck orders and one order's timeline from the JSON endpoints), and the admin actions of the
// order view: force-cancel (the order service's requestCancel, as an operator) and redrive of
// the order's dead letters. No table is written here; both go through their modules.
import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Queue } from 'bullmq';
import { z } from 'zod';
import { orderMachine } from '../../machines/order.machine.ts';
import { redriveDeadLetters } from '../messaging/dead-letters.ts';
import type { CoreDeps } from '../main/core-deps.ts';
import { requestCancel } from '../orders/order.service.ts';
import { machineResponseSchema, redriveResponseSchema, timelineResponseSchema } from './admin.schemas.ts';
import type { InvariantCheck } from './invariants.check.ts';
import { machineGraph } from './machine.graph.ts';
import { machinePage } from './machine.page.ts';
import { renderMachineSvg } from './machine.svg.ts';
import { deadLettersOf } from './machine.sql.ts';
import { fleetView, timelineView, type ViewDeps } from './machine.view.ts';

export interface MachineRouterDeps {
  core: CoreDeps;
  queues: readonly Queue[];
  guard: RequestHandler;
  invariants: InvariantCheck;
}

const orderIdSchema = z.uuid();
const stuckListedMax = 50;

function orderIdOf(req: Request, res: Response): string | null {
  const parsed = orderIdSchema.safeParse(req.params.id);
  if (parsed.success) return parsed.data;
  res.status(400).json({ error: { code: 'validation_failed', field: 'id', message: 'must be an order id (a UUID)' } });
  return null;
}

const handle =
  (fn: (req: Request, res: Response) => Promise<void>) =>
  (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res).catch(next);
  };

export function machineRouter({ core, queues, guard, invariants }: MachineRouterDeps): Router {
  const graph = machineGraph(orderMachine);
  // ELK takes about a second cold: lay the machine out once, on first use.
  let svg: Promise<string> | null = null;
  const byName = new Map(queues.map((q) => [q.name, q]));
  const view: ViewDeps = {
    pool: core.pool,
    queues: byName,
    graph,
    stuckAfterMs: core.config.ADMIN_STUCK_AFTER_MS,
    stuckListedMax,
    finalCounts: () => {
      const latest = invariants.latest();
      return { counts: latest?.facts.ordersByStatus ?? new Map(), at: latest?.at ?? null };
    },
  };
  const orderService = {
    pool: core.pool,
    dispatcher: core.dispatcher,
    transaction: core.transaction,
    topic: core.config.KAFKA_TOPIC_ORDER_EVENTS,
    reservationTtlMs: core.config.RESERVATION_TTL_MS,
    paymentDeadlineMs: core.config.PAYMENT_DEADLINE_MS,
  };
  const router = Router();
  router.get(
    '/admin/machine',
    guard,
    handle(async (_req, res) => {
      svg ??= renderMachineSvg(graph);
      res.setHeader('Cache-Control', 'no-store');
      res.type('html').send(machinePage(await svg, core.config.ADMIN_STUCK_AFTER_MS));
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
      const timeline = await timelineView(view, id);
      if (timeline === null) {
        res
          .status(404)
          .json({ error: { code: 'order_not_found', field: 'id', message: `order ${id} does not exist` } });
        return;
      }
      res.setHeader('Cache-Control', 'no-store');
      res.json(timelineResponseSchema.parse(timeline));
    }),
  );
  router.post(
    '/api/v1/admin/orders/:id/cancel',
    guard,
    handle(async (req, res) => {
      const id = orderIdOf(req, res);
      if (id === null) return;
      const correlationId = `admin-${req.admin?.userId ?? 'unknown'}-${Date.now()}`;
      const result = await requestCancel(orderService, id, correlationId, 'cancelled_by_operator');
      if (!result.ok) {
        const status = result.error.code === 'order_not_found' ? 404 : 409;
        res.status(status).json({ error: result.error });
        return;
      }
      res.status(202).json({ id, status: result.value.status, state: result.value.state, cancel: 'requested' });
    }),
  );
  router.post(
    '/api/v1/admin/orders/:id/redrive',
    guard,
    handle(async (req, res) => {
      const id = orderIdOf(req, res);
      if (id === null) return;
      const letters = await deadLettersOf(core.pool, id);
      const redriven = await redriveDeadLetters(
        core.pool,
        byName,
        letters.map((d) => d.id),
      );
      res.json(redriveResponseSchema.parse({ order_id: id, redriven }));
    }),
  );
  return router;
}

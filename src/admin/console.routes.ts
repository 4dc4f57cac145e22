// The operator's console beside the visualizer: the landing page (/admin) with its overview JSON,
// the orders list (/admin/orders, GET /api/v1/admin/orders: filters, search, cursor pages) and
// the audit trail (/admin/audit, GET /api/v1/admin/audit). All read-only, so viewers see them all.
// A bad filter is a 400 naming the parameter, never a query error.
import { Router, type RequestHandler } from 'express';
import { decodeCursor, encodeCursor, entryId, micros, uuid } from '../api/cursor.ts';
import { sendError } from '../api/errors.ts';
import { orderView } from '../api/order.view.ts';
import { listAudit } from '../audit/audit.sql.ts';
import { listDeadLetters } from '../messaging/dead-letters.ts';
import { inFlightByState, listOrders, stuckOrders } from '../orders/order.queries.ts';
import type { OrderRow } from '../orders/order.sql.ts';
import { listParked } from '../relay/relay.sql.ts';
import { handle, queryOf } from './admin.http.ts';
import { auditPage, ordersPage, overviewPage } from './console.pages.ts';
import {
  adminOrdersQuery,
  auditPageSchema,
  auditQuery,
  orderListResponseSchema,
  overviewResponseSchema,
  type OrderListItem,
  type OverviewResponse,
} from './console.schemas.ts';
import { invariantChecks, type InvariantCheck } from './invariants.check.ts';
import { boardUrlOf } from './job.facts.ts';
import { iso, type ViewDeps } from './machine.view.ts';
import { auditView } from './order-detail.view.ts';

export interface ConsoleRouterDeps {
  guard: RequestHandler;
  view: ViewDeps;
  invariants: InvariantCheck;
}

/** How many stuck orders, dead letters and parked rows the landing page lists. */
const overviewListedMax = 20;

const badCursor = { code: 'validation_failed', field: 'cursor', message: 'not a cursor of this list' } as const;

function listItem(order: OrderRow, nowMs: number): OrderListItem {
  const { id, status, state, failure_reason, user_id, currency, total, created_at, updated_at, finalized_at } =
    orderView(order);
  const inStateSeconds = Math.max(0, (nowMs - order.updated_at.getTime()) / 1_000);
  return {
    ...{ id, status, state, failure_reason, user_id, currency, total, created_at, updated_at, finalized_at },
    in_state_seconds: inStateSeconds,
  };
}

function ordersRoutes(router: Router, { guard, view }: ConsoleRouterDeps): void {
  const stateIds = view.graph.states.map((s) => s.id);
  const querySchema = adminOrdersQuery(stateIds as [string, ...string[]]);
  router.get('/admin/orders', guard, (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(ordersPage(req.admin, stateIds));
  });
  router.get(
    '/api/v1/admin/orders',
    guard,
    handle(async (req, res) => {
      const query = queryOf(querySchema, req, res);
      if (query === null) return;
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor, [micros, uuid]);
      if (after === null && query.cursor !== undefined) return sendError(res, badCursor);
      const page = await listOrders(view.pool, {
        ...(query.status === undefined ? {} : { status: query.status }),
        ...(query.state === undefined ? {} : { state: query.state }),
        ...(query.user_id === undefined ? {} : { userId: query.user_id }),
        ...(query.failure_reason === undefined ? {} : { failureReason: query.failure_reason }),
        ...(query.created_after === undefined ? {} : { createdAfter: new Date(query.created_after) }),
        ...(query.created_before === undefined ? {} : { createdBefore: new Date(query.created_before) }),
        ...(query.q === undefined ? {} : { search: query.q }),
        limit: query.limit,
        ...(after === null ? {} : { after: { createdAtMicros: after[0]!, id: after[1]! } }),
      });
      const now = Date.now();
      res.setHeader('Cache-Control', 'no-store');
      res.json(
        orderListResponseSchema.parse({
          orders: page.orders.map((o) => listItem(o, now)),
          next_cursor: page.next === null ? null : encodeCursor([page.next.createdAtMicros, page.next.id]),
        }),
      );
    }),
  );
}

function auditRoutes(router: Router, { guard, view }: ConsoleRouterDeps): void {
  router.get('/admin/audit', guard, (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(auditPage(req.admin));
  });
  router.get(
    '/api/v1/admin/audit',
    guard,
    handle(async (req, res) => {
      const query = queryOf(auditQuery, req, res);
      if (query === null) return;
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor, [entryId]);
      if (after === null && query.cursor !== undefined) return sendError(res, badCursor);
      const page = await listAudit(view.pool, {
        actor: query.actor,
        action: query.action,
        orderId: query.order_id,
        productId: query.product_id,
        outcome: query.outcome,
        after: query.after === undefined ? undefined : new Date(query.after),
        before: query.before === undefined ? undefined : new Date(query.before),
        limit: query.limit,
        afterId: after?.[0],
      });
      res.setHeader('Cache-Control', 'no-store');
      res.json(
        auditPageSchema.parse({
          entries: page.entries.map(auditView),
          next_cursor: page.next === null ? null : encodeCursor([page.next]),
        }),
      );
    }),
  );
}

/** The landing page's facts: live where a read is cheap and bounded, else the periodic check's. */
async function overview({ view, invariants }: ConsoleRouterDeps): Promise<OverviewResponse> {
  const [inFlight, stuck, dead, parked] = await Promise.all([
    inFlightByState(view.pool),
    stuckOrders(view.pool, view.stuckAfterMs, overviewListedMax),
    listDeadLetters(view.pool, overviewListedMax),
    listParked(view.pool, overviewListedMax),
  ]);
  const latest = invariants.latest();
  const checks = latest === null ? [] : invariantChecks(latest.facts);
  return {
    generated_at: new Date().toISOString(),
    fleet: {
      in_flight: inFlight.reduce((sum, s) => sum + s.count, 0),
      states: inFlight.map((s) => ({ state: s.state, count: s.count })),
      by_status: Object.fromEntries(latest?.facts.ordersByStatus ?? []),
    },
    invariants: {
      checked_at: iso(latest?.at ?? null),
      all_hold: latest === null ? null : checks.every((c) => c.holds),
      checks,
    },
    stuck: {
      listed_max: overviewListedMax,
      orders: stuck.map((s) => ({ id: s.id, state: s.state, age_seconds: s.age_seconds })),
    },
    dead_letters: {
      by_queue: [...(latest?.facts.deadLetters ?? [])].map(([queue, count]) => ({ queue, count })),
      recent: dead.map((d) => ({
        id: String(d.id),
        queue: d.queue,
        job_id: d.job_id,
        order_id: d.message_id === null ? null : (uuid.exec(d.message_id.slice(0, 36))?.[0] ?? null),
        error: d.error,
        created_at: d.created_at.toISOString(),
        board_url: boardUrlOf(d.queue, d.job_id),
      })),
    },
    parked: {
      listed_max: overviewListedMax,
      rows: parked.map((p) => ({
        id: String(p.id),
        type: p.type,
        destination: p.destination,
        order_id: p.key,
        attempts: p.attempts,
        last_error: p.last_error,
        parked_at: p.parked_at.toISOString(),
      })),
    },
  };
}

export function consoleRouter(deps: ConsoleRouterDeps): Router {
  const router = Router();
  router.get('/admin', deps.guard, (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(overviewPage(req.admin));
  });
  router.get(
    '/api/v1/admin/overview',
    deps.guard,
    handle(async (_req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.json(overviewResponseSchema.parse(await overview(deps)));
    }),
  );
  ordersRoutes(router, deps);
  auditRoutes(router, deps);
  return router;
}

// The operator's JSON endpoints as the OpenAPI document lists them. They are mounted by the admin
// surface (machine.routes.ts and console.routes.ts, behind the operator guard that also takes the
// session cookie), not by the API's RouteBook, so their specs are handed to the document here; the
// response schemas are the ones every answer is parsed with before it is sent. Every GET is open
// to viewers too; every POST needs an admin.
import { z } from 'zod';
import { orderMachine } from '../../machines/order.machine.ts';
import type { RouteSpec } from '../api/route-book.ts';
import {
  machineResponseSchema,
  redriveResponseSchema,
  resolveRequestSchema,
  resolveResponseSchema,
  timelineResponseSchema,
} from './admin.schemas.ts';
import {
  adminOrdersQuery,
  auditPageSchema,
  auditQuery,
  orderListResponseSchema,
  overviewResponseSchema,
} from './console.schemas.ts';
import { machineGraph } from './machine.graph.ts';

const orderParams = z.strictObject({ id: z.uuid() });
const stateIds = machineGraph(orderMachine).states.map((s) => s.id) as [string, ...string[]];

const consoleSpecs: RouteSpec[] = [
  {
    method: 'get',
    path: '/admin/overview',
    summary: 'Operator: the landing page (fleet, invariants, stuck orders, dead letters, parked rows)',
    tag: 'admin',
    access: 'admin',
    responses: { 200: { description: 'the overview', schema: overviewResponseSchema } },
    errors: [],
  },
  {
    method: 'get',
    path: '/admin/orders',
    summary: 'Operator: orders newest first, by status, state, user, failure reason, creation time or a search',
    tag: 'admin',
    access: 'admin',
    query: adminOrdersQuery(stateIds),
    responses: { 200: { description: 'one page; pass next_cursor as cursor', schema: orderListResponseSchema } },
    errors: ['validation_failed'],
  },
  {
    method: 'get',
    path: '/admin/audit',
    summary: 'Operator: the audit trail of operator actions, newest first',
    tag: 'admin',
    access: 'admin',
    query: auditQuery,
    responses: { 200: { description: 'one page; pass next_cursor as cursor', schema: auditPageSchema } },
    errors: ['validation_failed'],
  },
];

export const adminRouteSpecs: RouteSpec[] = [
  ...consoleSpecs,
  {
    method: 'get',
    path: '/admin/machine',
    summary: 'Operator: the order machine with the fleet on it (orders per state, oldest, stuck orders)',
    tag: 'admin',
    access: 'admin',
    responses: { 200: { description: 'the fleet view', schema: machineResponseSchema } },
    errors: [],
  },
  {
    method: 'get',
    path: '/admin/orders/{id}/timeline',
    summary:
      'Operator: one order complete: its fields, path, transitions, awaited jobs, Kafka events, dead letters, audit',
    tag: 'admin',
    access: 'admin',
    params: orderParams,
    responses: { 200: { description: 'the timeline', schema: timelineResponseSchema } },
    errors: ['validation_failed', 'order_not_found'],
  },
  {
    method: 'post',
    path: '/admin/orders/{id}/cancel',
    summary: 'Operator: force-cancel from the visualizer (the same as POST /orders/{id}/force-cancel)',
    tag: 'admin',
    access: 'admin',
    params: orderParams,
    responses: { 202: { description: 'the cancel event was sent to the machine' } },
    errors: ['validation_failed', 'order_not_found', 'order_not_cancellable'],
  },
  {
    method: 'post',
    path: '/admin/orders/{id}/redrive',
    summary: "Operator: put the order's dead letters back on their queues",
    tag: 'admin',
    access: 'admin',
    params: orderParams,
    responses: { 200: { description: 'how many were redriven', schema: redriveResponseSchema } },
    errors: ['validation_failed'],
  },
  {
    method: 'post',
    path: '/admin/orders/{id}/resolve',
    summary:
      'Operator: resolve an order in needs_attention: retry the failed undo, or mark it done by hand (no ledger row; the order then ends failed or cancelled)',
    tag: 'admin',
    access: 'admin',
    params: orderParams,
    body: resolveRequestSchema,
    responses: { 200: { description: 'the order after the resolve', schema: resolveResponseSchema } },
    errors: ['validation_failed', 'order_not_found', 'order_not_in_attention'],
  },
];

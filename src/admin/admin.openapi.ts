// The operator's JSON endpoints as the OpenAPI document lists them. They are mounted by the admin
// surface (machine.routes.ts, behind the admin guard that also takes the session cookie), not by
// the API's RouteBook, so their specs are handed to the document here; the response schemas are
// the ones every answer is parsed with before it is sent.
import { z } from 'zod';
import type { RouteSpec } from '../api/route-book.ts';
import { machineResponseSchema, redriveResponseSchema, timelineResponseSchema } from './admin.schemas.ts';

const orderParams = z.strictObject({ id: z.uuid() });

export const adminRouteSpecs: RouteSpec[] = [
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
    summary: "Operator: one order's path, transitions, outbox rows, jobs and dead letters",
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
];

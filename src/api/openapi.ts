// The OpenAPI 3.1 document, generated from the RouteBook's specs (the same zod schemas the routes
// check) with @asteasolutions/zod-to-openapi. Served at /openapi.json.
import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { statusByCode, type ApiErrorCode } from './errors.ts';
import type { RouteSpec } from './route-book.ts';
import { errorBodySchema } from './schemas.ts';

export const apiPrefix = '/api/v1';

/** Error codes every route of an access level can answer besides its own. */
function implicitErrors(spec: RouteSpec): ApiErrorCode[] {
  const always: ApiErrorCode[] = ['rate_limited', 'service_unavailable'];
  const body: ApiErrorCode[] = spec.body === undefined ? [] : ['malformed_json', 'body_too_large'];
  const auth: ApiErrorCode[] = spec.access === 'public' ? [] : ['token_missing', 'token_invalid', 'token_expired'];
  const admin: ApiErrorCode[] = spec.access === 'admin' ? ['forbidden'] : [];
  return [...auth, ...admin, ...body, ...always];
}

function errorResponses(spec: RouteSpec): RouteConfig['responses'] {
  const byStatus = new Map<number, Set<ApiErrorCode>>();
  for (const code of [...spec.errors, ...implicitErrors(spec)]) {
    const status = statusByCode[code];
    byStatus.set(status, (byStatus.get(status) ?? new Set()).add(code));
  }
  const responses: RouteConfig['responses'] = {};
  for (const [status, codes] of [...byStatus.entries()].sort(([a], [b]) => a - b)) {
    responses[status] = {
      description: `error.code: ${[...codes].join(', ')}`,
      content: { 'application/json': { schema: errorBodySchema } },
    };
  }
  return responses;
}

function routeConfig(spec: RouteSpec): RouteConfig {
  const responses: RouteConfig['responses'] = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    responses[status] = {
      description: response.description,
      ...(response.schema ? { content: { 'application/json': { schema: response.schema } } } : {}),
    };
  }
  const headers = z.object(
    Object.fromEntries((spec.headers ?? []).map((h) => [h.name, z.string().optional().describe(h.description)])),
  );
  return {
    method: spec.method,
    path: `${apiPrefix}${spec.path}`,
    summary: spec.summary,
    tags: [spec.tag],
    ...(spec.access === 'public' ? {} : { security: [{ bearer: [] }] }),
    request: {
      ...(spec.params ? { params: spec.params as z.ZodObject } : {}),
      ...(spec.query ? { query: spec.query as z.ZodObject } : {}),
      ...(spec.headers === undefined ? {} : { headers }),
      ...(spec.body ? { body: { required: true, content: { 'application/json': { schema: spec.body } } } } : {}),
    },
    responses: { ...responses, ...errorResponses(spec) },
  };
}

/** The open endpoints outside /api/v1: probes, metrics and this documentation. */
function registerOperations(registry: OpenAPIRegistry): void {
  const open: Array<[string, string, string, string]> = [
    ['/health', 'Liveness', 'application/json', '{"status":"ok"}'],
    [
      '/ready',
      'Readiness: postgres, redis, relay (503 when PostgreSQL or Redis is down)',
      'application/json',
      'checks',
    ],
    ['/metrics', 'Prometheus metrics', 'text/plain', 'exposition format'],
    ['/openapi.json', 'This document', 'application/json', 'OpenAPI 3.1'],
    ['/docs', 'Swagger UI for this document', 'text/html', 'the page'],
  ];
  for (const [path, summary, type, description] of open) {
    registry.registerPath({
      method: 'get',
      path,
      summary,
      tags: ['operations'],
      responses: { 200: { description, content: { [type]: { schema: z.unknown() } } } },
    });
  }
}

export function openApiDocument(specs: readonly RouteSpec[]) {
  const registry = new OpenAPIRegistry();
  registerOperations(registry);
  registry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'HS256 or JWKS-verified JWT: sub is the user id, role is customer, viewer (admin reads only) or admin',
  });
  for (const spec of specs) registry.registerPath(routeConfig(spec));
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Order engine API',
      version: '1',
      description:
        'Orders, catalogue, coupons and ledger. Errors: {"error": {"code", "field"?, "message"}}. ' +
        'Rate limits answer 429 with Retry-After; an unreachable PostgreSQL or Redis answers 503 with Retry-After.',
    },
    servers: [{ url: '/' }],
  });
}

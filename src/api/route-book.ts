// Every /api/v1 route is added through a RouteBook: one spec mounts the express route, checks its
// path parameters, query and body against the same zod schemas, and is what /openapi.json is
// generated from. A route cannot be served without being documented.
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { AuthGuards } from './auth.middleware.ts';
import type { RateLimitName, RateLimiters } from './rate-limit.middleware.ts';
import { sendError, type ApiErrorCode } from './errors.ts';
import { validationErrors } from './validation.ts';

/** public: no token; customer: any valid token; admin: a token with the admin role. */
export type Access = 'public' | 'customer' | 'admin';

export interface RouteSpec<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  method: 'get' | 'post' | 'put' | 'patch';
  /** OpenAPI form under /api/v1: /orders/{id}. */
  path: string;
  summary: string;
  tag: string;
  access: Access;
  params?: P;
  query?: Q;
  body?: B;
  /** Request headers the route reads, for the document. */
  headers?: Array<{ name: string; description: string }>;
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  /** The error codes the route itself answers (auth, rate limit and availability are added). */
  errors: ApiErrorCode[];
  /** The named rate limit that counts this route's requests (default: api). */
  limit?: RateLimitName;
}

export interface Input<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
}

type Handler<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> = (
  req: Request,
  res: Response,
  input: Input<P, Q, B>,
) => Promise<void> | void;

const toExpressPath = (path: string) => path.replace(/\{([A-Za-z_]+)\}/g, ':$1');

export class RouteBook {
  readonly specs: RouteSpec[] = [];
  readonly router = Router();

  constructor(
    private readonly guards: AuthGuards,
    private readonly limiters: RateLimiters,
  ) {}

  add<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
    spec: RouteSpec<P, Q, B>,
    handler: Handler<P, Q, B>,
    ...before: RequestHandler[]
  ): void {
    this.specs.push(spec as unknown as RouteSpec);
    // Identify first, so one round trip counts both the IP and the caller; a request that fails
    // authentication has been counted against its IP before it is answered.
    const checks =
      spec.access === 'public'
        ? [this.limiters.ip]
        : [
            this.guards.identify,
            this.limiters.perCaller[spec.limit ?? 'api'],
            spec.access === 'admin' ? this.guards.requireAdmin : this.guards.requireAuth,
          ];
    this.router[spec.method](toExpressPath(spec.path), ...checks, ...before, async (req: Request, res: Response) => {
      const input = parseInput(req, res, spec);
      if (input !== undefined) await handler(req, res, input);
    });
  }
}

function parseInput<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
  req: Request,
  res: Response,
  spec: RouteSpec<P, Q, B>,
): Input<P, Q, B> | undefined {
  const parts = [
    ['params', spec.params, req.params],
    ['query', spec.query, req.query],
    ['body', spec.body, req.body],
  ] as const;
  const parsed: Record<string, unknown> = {};
  for (const [name, schema, value] of parts) {
    if (schema === undefined) continue;
    const result = schema.safeParse(value ?? (name === 'body' ? undefined : {}));
    if (!result.success) {
      const errors = validationErrors(result.error);
      sendError(res, errors[0]!, errors);
      return undefined;
    }
    parsed[name] = result.data;
  }
  return parsed as unknown as Input<P, Q, B>;
}

// Rate limits shared by every API process through Redis (express-rate-limit + rate-limit-redis):
// one per client IP in front of authentication, and named per-caller limits after it (orders for
// POST /orders, api for the rest). Over a limit: 429 rate_limited with Retry-After and the IETF
// RateLimit headers. Redis unreachable: 503 within a bound, never a hanging request.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, rateLimit, type RateLimitExceededEventHandler } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { sendError, UnavailableError } from './errors.ts';

export const rateLimitNames = ['orders', 'api'] as const;
export type RateLimitName = (typeof rateLimitNames)[number];

export interface RateLimitSettings {
  windowMs: number;
  ipMax: number;
  perCallerMax: Record<RateLimitName, number>;
  /** Key prefix in Redis: processes that share it share their counts. */
  prefix: string;
  /** Longest wait for Redis before the request gets a 503. */
  redisTimeoutMs: number;
}

export interface RateLimiters {
  ip: RequestHandler;
  perCaller: Record<RateLimitName, RequestHandler>;
}

const exceeded: RateLimitExceededEventHandler = (_req, res, _next, options) => {
  if (res.headersSent) return;
  sendError(res, { code: 'rate_limited', message: `too many requests; limit ${String(options.limit)} per window` });
};

export function createRateLimiters(redis: Redis, settings: RateLimitSettings): RateLimiters {
  const limiter = (name: string, max: number, key: (req: Request, res: Response) => string) =>
    withDeadline(
      rateLimit({
        windowMs: settings.windowMs,
        limit: max,
        standardHeaders: 'draft-8',
        legacyHeaders: false,
        identifier: name,
        keyGenerator: key,
        handler: exceeded,
        // A store failure goes to the error handler (503): a limit is never silently dropped.
        passOnStoreError: false,
        store: new RedisStore({
          prefix: `${settings.prefix}:rl:${name}:`,
          sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as Promise<RedisReply>,
        }),
      }),
      settings.redisTimeoutMs,
    );
  const ipOf = (req: Request) => ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown');
  // After requireAuth: the caller is the token's user; the IP only when there is none.
  const callerOf = (req: Request, res: Response) =>
    typeof res.locals.caller === 'string' ? `user:${res.locals.caller}` : `ip:${ipOf(req)}`;
  return {
    ip: limiter('ip', settings.ipMax, ipOf),
    perCaller: {
      orders: limiter('orders', settings.perCallerMax.orders, callerOf),
      api: limiter('api', settings.perCallerMax.api, callerOf),
    },
  };
}

/**
 * The engine's Redis client queues commands while Redis is away (BullMQ needs that), so a limiter
 * would wait for as long as the outage lasts: past the deadline the request is answered 503.
 */
function withDeadline(handler: RequestHandler, deadlineMs: number): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      next(new UnavailableError(`rate limit store did not answer within ${deadlineMs} ms`));
    }, deadlineMs);
    const done = (error?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      next(error);
    };
    res.on('finish', () => clearTimeout(timer));
    void handler(req, res, done);
  };
}

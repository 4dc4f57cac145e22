// Rate limits shared by every API process through Redis: one per client IP, and named per-caller
// limits (orders for POST /orders, api for the rest). A request costs ONE round trip to Redis: an
// authenticated request counts its IP and its caller in one script; anything else its IP alone.
// A request that fails authentication counts against its IP before it is answered 401, so the IP
// limit still stands in front of authentication. Over a limit: 429 rate_limited with Retry-After and
// the IETF RateLimit headers (draft 8). Redis unreachable: 503 within a bound, never a hang.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import type { RedisClient } from '../platform/redis.ts';
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
  /** Counts the request's IP (public routes, and whatever no route claimed). */
  ip: RequestHandler;
  /** Counts the IP and, once authenticated, the caller under the named limit, in one round trip. */
  perCaller: Record<RateLimitName, RequestHandler>;
}

/**
 * Fixed windows, counted atomically. KEYS: the counters; ARGV[1]: the window in ms. Each counter
 * is incremented and, when new, given the window as its time to live. Returns, per key, the count
 * and the milliseconds left in its window.
 */
const countScript = `
local counts = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('PEXPIRE', key, ARGV[1]) end
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then redis.call('PEXPIRE', key, ARGV[1]); ttl = tonumber(ARGV[1]) end
  counts[#counts + 1] = count
  counts[#counts + 1] = ttl
end
return counts`;

interface Counter {
  name: string;
  key: string;
  max: number;
}

type CountingRedis = RedisClient & { rateLimitCount(keyCount: number, ...args: string[]): Promise<number[]> };

export function createRateLimiters(redis: RedisClient, settings: RateLimitSettings): RateLimiters {
  const counting = redis as CountingRedis;
  if (typeof counting.rateLimitCount !== 'function') {
    redis.defineCommand('rateLimitCount', { lua: countScript });
  }
  // One hash tag: every counter of a request lives in one slot, as a script on Redis Cluster needs.
  const keyOf = (name: string, subject: string) => `{${settings.prefix}:rl}:${name}:${subject}`;
  const ipCounter = (req: Request): Counter => ({
    name: 'ip',
    key: keyOf('ip', ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown')),
    max: settings.ipMax,
  });
  const limit = (counters: (req: Request, res: Response) => Counter[]): RequestHandler =>
    withDeadline(async (req, res) => {
      const wanted = counters(req, res);
      const counts = await counting.rateLimitCount(
        wanted.length,
        ...wanted.map((c) => c.key),
        String(settings.windowMs),
      );
      return verdict(res, wanted, counts, settings.windowMs);
    }, settings.redisTimeoutMs);
  const perCaller = (name: RateLimitName) =>
    limit((req, res) => {
      const caller = res.locals.caller;
      if (typeof caller !== 'string') return [ipCounter(req)];
      return [ipCounter(req), { name, key: keyOf(name, `user:${caller}`), max: settings.perCallerMax[name] }];
    });
  return {
    ip: limit((req) => [ipCounter(req)]),
    perCaller: { orders: perCaller('orders'), api: perCaller('api') },
  };
}

/**
 * Sets the headers of the tightest counter; returns the 429 to answer when a counter is over its
 * limit, else null.
 */
function verdict(res: Response, counters: Counter[], counts: number[], windowMs: number): (() => void) | null {
  let shown = 0;
  let over = -1;
  for (let i = 0; i < counters.length; i++) {
    const remaining = counters[i]!.max - counts[2 * i]!;
    if (remaining < 0 && over === -1) over = i;
    if (remaining < counters[shown]!.max - counts[2 * shown]!) shown = i;
  }
  const index = over === -1 ? shown : over;
  const counter = counters[index]!;
  const resetSeconds = Math.max(1, Math.ceil(counts[2 * index + 1]! / 1_000));
  res.set('RateLimit-Policy', `"${counter.name}";q=${counter.max};w=${Math.ceil(windowMs / 1_000)}`);
  res.set('RateLimit', `"${counter.name}";r=${Math.max(0, counter.max - counts[2 * index]!)};t=${resetSeconds}`);
  if (over === -1) return null;
  return () => {
    res.set('Retry-After', String(resetSeconds));
    sendError(res, { code: 'rate_limited', message: `too many requests; limit ${counter.max} per window` });
  };
}

/**
 * The engine's Redis client queues commands while Redis is away (BullMQ needs that), so a limiter
 * would wait for as long as the outage lasts: past the deadline the request is answered 503.
 */
function withDeadline(
  handler: (req: Request, res: Response) => Promise<(() => void) | null>,
  deadlineMs: number,
): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      next(new UnavailableError(`rate limit store did not answer within ${deadlineMs} ms`));
    }, deadlineMs);
    const settle = (then: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      then();
    };
    handler(req, res).then(
      (refuse) => settle(refuse ?? (() => next())),
      (error: unknown) => settle(() => next(error)),
    );
  };
}

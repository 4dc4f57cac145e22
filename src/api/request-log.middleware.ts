// One log line per request (pino-http) carrying the correlation id, which the response also
// returns as X-Correlation-Id. Credentials are never logged: the Authorization and Cookie
// headers are censored, and so is the query string (a cursor is harmless, but a token pasted
// into a URL must not end up in logs).
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../platform/logger.ts';

const correlationIdPattern = /^[A-Za-z0-9_.-]{1,100}$/;

export function requestLog(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    genReqId: (req, res) => {
      const given = req.headers['x-correlation-id'];
      const id = typeof given === 'string' && correlationIdPattern.test(given) ? given : randomUUID();
      res.setHeader('X-Correlation-Id', id);
      return id;
    },
    customProps: (req) => ({ correlation_id: req.id }),
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({
        method: req.method,
        path: String(req.url).split('?')[0],
      }),
      res: (res: { statusCode: number }) => ({ status: res.statusCode }),
    },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    customLogLevel: (_req, res, error) =>
      error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug',
  }) as unknown as RequestHandler;
}

// One log line per request carrying the correlation id, which the response also returns as
// X-Correlation-Id: 2xx at debug, 4xx at info, 5xx at error. Only the method, the path (never the
// query string: a token pasted into a URL must not end up in logs) and the status are logged, never
// a header, so credentials cannot leak. The line is built only when its level is enabled: a
// request the log does not keep costs a header and a listener.
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../platform/logger.ts';

const correlationIdPattern = /^[A-Za-z0-9_.-]{1,100}$/;

export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.headers['x-correlation-id'];
    const id = typeof given === 'string' && correlationIdPattern.test(given) ? given : randomUUID();
    (req as { id?: string }).id = id;
    res.setHeader('X-Correlation-Id', id);
    const startedAt = performance.now();
    // A client that hung up before its answer: said once, at info.
    res.once('close', () => {
      if (res.writableFinished || !logger.isLevelEnabled('info')) return;
      logger.info(
        { req: { method: req.method, path: req.originalUrl.split('?')[0] }, correlation_id: id },
        'request aborted',
      );
    });
    res.once('finish', () => {
      const level = res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug';
      if (!logger.isLevelEnabled(level)) return;
      logger[level](
        {
          req: { method: req.method, path: req.originalUrl.split('?')[0] },
          res: { status: res.statusCode },
          correlation_id: id,
          responseTime: Math.round(performance.now() - startedAt),
        },
        res.statusCode >= 500 ? 'request errored' : 'request completed',
      );
    });
    next();
  };
}

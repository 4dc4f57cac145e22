// HTTP request duration by route template (not raw path, so ids do not explode the label set)
// and status, and orders accepted by the API. Wraps the built app, so every route is measured,
// including the 404s and errors the app answers itself.
import express, { type Express, type Request } from 'express';
import type { Metrics } from '../platform/metrics.ts';

/** '/api/v1/orders/:id' for a matched route; 'unmatched' for anything no route took. */
export function routeOf(req: Request): string {
  const route = (req as Request & { route?: { path?: unknown } }).route;
  if (route === undefined || typeof route.path !== 'string') {
    return req.originalUrl.startsWith('/admin/queues') ? '/admin/queues/*' : 'unmatched';
  }
  const path = `${req.baseUrl}${route.path}`;
  return path.length > 1 ? path.replace(/\/$/, '') : '/';
}

/**
 * `beforeScrape` runs before the app answers GET /metrics: it sets gauges the app's own
 * collector does not know about (the relay queue's job counts, which the API holds only here).
 */
export function withHttpMetrics(app: Express, metrics: Metrics, beforeScrape?: () => Promise<void>): Express {
  const outer = express();
  outer.disable('x-powered-by');
  outer.use((req, res, next) => {
    const stop = metrics.httpRequestDuration.startTimer();
    res.on('finish', () => {
      const route = routeOf(req);
      stop({ method: req.method, route, status: String(res.statusCode) });
      const accepted = res.statusCode === 201 || res.statusCode === 202;
      if (req.method === 'POST' && route === '/api/v1/orders' && accepted && !res.get('Idempotent-Replayed'))
        metrics.ordersCreated.inc();
    });
    if (beforeScrape === undefined || req.method !== 'GET' || req.path !== '/metrics') {
      next();
      return;
    }
    // A failed refresh leaves the last values; the scrape itself still answers.
    beforeScrape().then(
      () => next(),
      () => next(),
    );
  });
  outer.use(app);
  return outer;
}

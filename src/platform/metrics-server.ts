// A bare HTTP endpoint for processes without the API (workers, relay, notifications): /metrics for
// Prometheus, and /health, which names the dependencies this process cannot reach right now (503
// while one is down), from the outage log. Off when the port is 0.
import { createServer, type Server } from 'node:http';
import { Gauge, type Registry } from 'prom-client';
import { outages } from './outage.ts';

const dependencyGaugeName = 'order_engine_dependency_up';

/** 1 per dependency this process reaches, 0 while it is down; read from the outage log at scrape time. */
export function registerDependencyGauge(registry: Registry): void {
  if (registry.getSingleMetric(dependencyGaugeName) !== undefined) return;
  new Gauge({
    name: dependencyGaugeName,
    help: 'Whether this process reaches the dependency (1) or not (0)',
    labelNames: ['dependency'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [dependency, state] of Object.entries(outages.states())) {
        this.set({ dependency }, state === 'ok' ? 1 : 0);
      }
    },
  });
}

/** The body of /health: every dependency seen, and for each one down, how long it has been. */
export function healthReport(): { status: 'ok' | 'down'; dependencies: Record<string, string>; down: unknown[] } {
  const down = outages.current();
  return { status: down.length === 0 ? 'ok' : 'down', dependencies: outages.states(), down };
}

export function serveMetrics(registry: Registry, port: number, host: string): Server | null {
  if (port === 0) return null;
  registerDependencyGauge(registry);
  const server = createServer((req, res) => {
    if (req.url === '/health') {
      const report = healthReport();
      res
        .writeHead(report.status === 'ok' ? 200 : 503, { 'Content-Type': 'application/json' })
        .end(JSON.stringify(report));
      return;
    }
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  server.listen(port, host);
  return server;
}

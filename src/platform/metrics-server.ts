// A bare /metrics endpoint for processes without the API (workers, relay), so Prometheus can
// scrape their counters and histograms. Off when the port is 0.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export function serveMetrics(registry: Registry, port: number, host: string): Server | null {
  if (port === 0) return null;
  const server = createServer((req, res) => {
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

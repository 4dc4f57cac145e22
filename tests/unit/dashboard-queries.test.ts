// Every PromQL expression of the Grafana dashboard and of the alert rules parses, and every metric
// it names is one the engine registers (a renamed metric cannot leave a silent, empty panel).
import { readFileSync } from 'node:fs';
import { parser } from '@prometheus-io/lezer-promql';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/platform/metrics.ts';

const dashboard = JSON.parse(
  readFileSync(new URL('../../grafana/dashboards/order-engine.json', import.meta.url), 'utf8'),
) as {
  panels: Array<{ title: string; type: string; targets?: Array<{ expr: string }> }>;
};
const alertExpressions = [
  ...readFileSync(new URL('../../prometheus/alerts.yml', import.meta.url), 'utf8').matchAll(/^\s*expr: (.+)$/gm),
].map((m) => m[1]!.trim());

/** What a scrape exposes: each metric's name, and a histogram's _bucket, _sum and _count series. */
function registeredSeries(): Set<string> {
  const names = new Set<string>();
  for (const metric of createMetrics().registry.getMetricsAsArray()) {
    const { name, type } = metric as unknown as { name: string; type: string };
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

function metricsOf(expression: string): { names: string[]; errors: number } {
  const names: string[] = [];
  let errors = 0;
  parser.parse(expression).iterate({
    enter: (node) => {
      if (node.type.isError) errors += 1;
      if (node.type.name === 'Identifier' && node.node.parent?.type.name === 'VectorSelector')
        names.push(expression.slice(node.from, node.to));
    },
  });
  return { names, errors };
}

const dashboardExpressions = dashboard.panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
);

describe('the Grafana dashboard and the alert rules', () => {
  const registered = registeredSeries();

  it('has queries for every panel that is not a row', () => {
    expect(dashboardExpressions.length).toBeGreaterThan(15);
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row'))
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
  });

  it.each(dashboardExpressions.map((e) => [e.panel, e.expr]))(
    'panel %s: %s parses and names registered metrics',
    (_panel, expr) => {
      const { names, errors } = metricsOf(expr);
      expect(errors).toBe(0);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) expect(registered, `${name} is registered`).toContain(name);
    },
  );

  it.each(alertExpressions)('alert %s parses and names registered metrics', (expr) => {
    const { names, errors } = metricsOf(expr);
    expect(errors).toBe(0);
    for (const name of names) expect(registered, `${name} is registered`).toContain(name);
  });

  it('refuses an unknown metric and a broken query (the check can fail)', () => {
    expect(registered).not.toContain(metricsOf('rate(order_engine_no_such_metric_total[5m])').names[0]);
    expect(metricsOf('sum(rate(order_engine_orders_created_total[5m])').errors).toBeGreaterThan(0);
  });
});

// Every PromQL expression of the Grafana dashboard and of the alert rules parses, and every metric
// it names is one the engine registers (a renamed metric cannot leave a silent, empty panel). Each
// alert rule has a promtool test, each panel plots what its title says, and every labelled counter
// starts its known series at 0 (so increase() sees the first event).
import { readFileSync } from 'node:fs';
import { parser } from '@prometheus-io/lezer-promql';
import { describe, expect, it } from 'vitest';
import { createMetrics, knownLabelValues } from '../../src/platform/metrics.ts';
import { registerDependencyGauge } from '../../src/platform/metrics-server.ts';

const dashboard = JSON.parse(
  readFileSync(new URL('../../grafana/dashboards/order-engine.json', import.meta.url), 'utf8'),
) as {
  panels: Array<{ title: string; type: string; targets?: Array<{ expr: string }> }>;
};
const alertRules = readFileSync(new URL('../../prometheus/alerts.yml', import.meta.url), 'utf8');
const alertExpressions = [...alertRules.matchAll(/^\s*expr: (.+)$/gm)].map((m) => m[1]!.trim());
const alertTests = readFileSync(new URL('../../prometheus/alerts.test.yml', import.meta.url), 'utf8');

/** Series Prometheus makes itself for every target. */
const prometheusSeries = ['up'];

/** What a scrape exposes: each metric's name, and a histogram's _bucket, _sum and _count series. */
function registeredSeries(): Set<string> {
  const names = new Set<string>(prometheusSeries);
  const { registry } = createMetrics();
  // Every process adds the dependency gauge to its registry (src/platform/metrics-server.ts).
  registerDependencyGauge(registry);
  for (const metric of registry.getMetricsAsArray()) {
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

  it('has a promtool test for every alert rule', () => {
    const rules = [...alertRules.matchAll(/^\s*- alert: (\w+)$/gm)].map((m) => m[1]!);
    const tested = new Set([...alertTests.matchAll(/^\s*alertname: (\w+)$/gm)].map((m) => m[1]!));
    expect(rules.length).toBeGreaterThan(10);
    expect(rules.filter((rule) => !tested.has(rule))).toEqual([]);
  });

  it('plots only provider calls on the provider panel (the relay has a panel of its own)', () => {
    const panel = dashboard.panels.find((p) => p.title === 'Payment provider calls by outcome');
    const names = (panel?.targets ?? []).flatMap((t) => metricsOf(t.expr).names);
    expect(names.length).toBeGreaterThan(0);
    expect(new Set(names)).toEqual(new Set(['order_engine_payment_provider_calls_total']));
    const relay = dashboardExpressions.filter((e) => e.expr.includes('order_engine_relay_published_total'));
    expect(relay.map((e) => e.panel)).toEqual(['Relay: events published and parked']);
  });

  it('starts every known series of a labelled counter at 0, before any event', async () => {
    const scrape = await createMetrics(false).registry.metrics();
    const expected = Object.values(knownLabelValues).reduce((n, labelSets) => n + labelSets.length, 0);
    expect(expected).toBeGreaterThan(30);
    expect(scrape.match(/_total\{[^}]*\} 0$/gm)?.length).toBeGreaterThanOrEqual(expected);
    for (const queue of ['orders', 'inventory', 'coupons', 'payments', 'ledger'])
      expect(scrape).toContain(`order_engine_jobs_dead_lettered_total{queue="${queue}"} 0`);
    expect(scrape).toContain('order_engine_orders_finished_total{status="failed",reason="payment_declined"} 0');
    expect(scrape).toContain('order_engine_lock_acquisitions_total{result="failed"} 0');
    expect(scrape).toContain('order_engine_payment_provider_calls_total{operation="charge",outcome="lost_response"} 0');
  });

  it('refuses an unknown metric and a broken query (the check can fail)', () => {
    expect(registered).not.toContain(metricsOf('rate(order_engine_no_such_metric_total[5m])').names[0]);
    expect(metricsOf('sum(rate(order_engine_orders_created_total[5m])').errors).toBeGreaterThan(0);
  });
});

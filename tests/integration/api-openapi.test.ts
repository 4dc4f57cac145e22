// /openapi.json is a valid OpenAPI 3.1 document (checked by @readme/openapi-parser) naming every
// route the app serves, and /docs serves Swagger UI from this process, no CDN.
import { validate } from '@readme/openapi-parser';
import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp } from '../../src/main/api-server.ts';
import { createMetrics } from '../../src/platform/metrics.ts';
import { startTestEngine, type TestEngine } from '../support/engine.ts';

let engine: TestEngine;
let document: any;

beforeAll(async () => {
  engine = await startTestEngine({}, { roles: [] });
  document = await (await fetch(`${engine.url}/openapi.json`)).json();
});
afterAll(async () => {
  await engine?.close();
});

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  match(path: string): boolean;
}

/** "GET /api/v1/orders/{id}" for every route in the app's router tree. */
function servedRoutes(app: Express): string[] {
  const routes: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route !== undefined) {
        for (const method of Object.keys(layer.route.methods).filter((m) => m !== '_all')) {
          const path = `${prefix}${layer.route.path === '/' && prefix !== '' ? '' : layer.route.path}`;
          routes.push(`${method.toUpperCase()} ${path.replace(/:([A-Za-z_]+)/g, '{$1}')}`);
        }
      } else if (layer.handle.stack !== undefined) {
        // A router used at the root matches any path; one mounted at a prefix matches only under it.
        const atRoot = layer.match('/no-such-mount-point');
        const mount = atRoot ? '' : ['/api/v1', '/docs', '/admin'].find((candidate) => layer.match(candidate));
        walk(layer.handle.stack, `${prefix}${mount ?? ''}`);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return routes;
}

describe('/openapi.json', () => {
  it('validates as OpenAPI 3.1', async () => {
    expect(document.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(document));
    expect(result.valid ? [] : result.errors).toEqual([]);
  });

  it('names every route the app serves', () => {
    // The app inside the HTTP-metrics wrapper: the extension point hands it over.
    let app: Express | undefined;
    createApiApp(engine.core, createMetrics(false), { mount: (inner) => void (app = inner) });
    if (app === undefined) throw new Error('mount was not called');
    // The operator's pages (/admin/...) are HTML, not API; their JSON under /api/v1/admin is listed.
    const served = servedRoutes(app).filter(
      (route) => !route.startsWith('GET /docs/') && !/^[A-Z]+ \/admin(\/|$)/.test(route),
    );
    expect(served).toEqual(expect.arrayContaining(['GET /api/v1/admin/orders/{id}/timeline']));
    expect(served).toEqual(expect.arrayContaining(['GET /health', 'GET /api/v1/orders/{id}', 'GET /docs']));
    expect(served.length).toBeGreaterThan(15);
    const documented = new Set(
      Object.entries(document.paths as Record<string, object>).flatMap(([path, item]) =>
        Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
      ),
    );
    expect(served.filter((route) => !documented.has(route))).toEqual([]);
  });

  it('documents error codes and auth per route', () => {
    const placing = document.paths['/api/v1/orders'].post;
    expect(placing.security).toEqual([{ bearer: [] }]);
    expect(placing.responses['401'].description).toContain('token_expired');
    expect(placing.responses['429'].description).toContain('rate_limited');
    expect(placing.responses['503'].description).toContain('service_unavailable');
    expect(document.paths['/api/v1/products'].post.responses['403'].description).toContain('forbidden');
    expect(document.paths['/health'].get.security).toBeUndefined();
    const address = placing.requestBody.content['application/json'].schema.properties.shipping_address;
    expect(Object.keys(address.properties)).toEqual(
      expect.arrayContaining(['street', 'city', 'state', 'country', 'postal_code']),
    );
    expect(address.additionalProperties).toBe(false);
  });
});

describe('/docs', () => {
  it('serves Swagger UI and its assets from this process, pointing at /openapi.json', async () => {
    const page = await fetch(`${engine.url}/docs/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('swagger-ui-bundle.js');
    expect(html).not.toMatch(/https?:\/\//);
    const init = await (await fetch(`${engine.url}/docs/init.js`)).text();
    expect(init).toContain("url: '/openapi.json'");
    expect(init).toContain('validatorUrl: null');
    for (const asset of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
      const res = await fetch(`${engine.url}/docs/${asset}`);
      expect(res.status, asset).toBe(200);
      await res.arrayBuffer();
    }
    const bare = await fetch(`${engine.url}/docs`, { redirect: 'manual' });
    expect(bare.status).toBe(301);
  });
});

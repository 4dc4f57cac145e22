// /docs: Swagger UI from the swagger-ui-dist package, served from this process (no CDN), pointed
// at /openapi.json with the online validator off.
import { createRequire } from 'node:module';
import path from 'node:path';
import express, { Router } from 'express';

const distDirectory = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const page = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Order engine API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>`;

// A separate script (not inline) so a strict Content-Security-Policy can forbid inline scripts.
const init = `window.ui = SwaggerUIBundle({
  url: '/openapi.json', dom_id: '#swagger-ui', validatorUrl: null, deepLinking: true,
  persistAuthorization: false, tryItOutEnabled: true
});`;

export function docsRouter(): Router {
  const router = Router();
  const html = (res: express.Response) =>
    res
      .type('html')
      .set('Content-Security-Policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
      .send(page);
  router.get('/', (req, res) => {
    // /docs -> /docs/ so the page's relative asset paths resolve the same either way.
    if (!req.originalUrl.split('?')[0]!.endsWith('/')) return res.redirect(301, '/docs/');
    html(res);
  });
  router.get('/init.js', (_req, res) => {
    res.type('application/javascript').send(init);
  });
  router.use(express.static(distDirectory, { index: false, maxAge: '1h' }));
  return router;
}

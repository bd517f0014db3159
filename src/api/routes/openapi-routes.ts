import { dirname, join } from 'node:path';
import { Router } from 'express';
import { z } from 'zod';
import { AppError } from '../../errors/app-error';
import { ErrorType } from '../../shared/error-types';
import { defineRoutes, type RouteDoc } from '../openapi/route-doc';

/** swagger-ui-dist files the page loads; nothing else of the package is served. */
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

// No inline script, so a strict Content-Security-Policy holds; every URL is this API's own.
const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>durable-inference API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

// validatorUrl null: the page would otherwise send the document to validator.swagger.io.
const INIT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: 'StandaloneLayout',
});
`;

/** Where swagger-ui-dist's files are (the package has no types; its package.json is enough). */
const ASSET_DIR = dirname(require.resolve('swagger-ui-dist/package.json'));

const CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'";

/** GET /openapi.json and the browsable docs at /docs, all served by the API itself (no CDN). */
export function openApiRoutes(deps: {
  /** The document; built once, on first use. */
  document: () => Record<string, unknown>;
}): Router {
  const router = Router();
  let doc: string | undefined;
  router.get('/openapi.json', (_req, res) => {
    doc ??= JSON.stringify(deps.document());
    res.type('application/json').send(doc);
  });
  router.get('/docs', (_req, res) => {
    res.setHeader('Content-Security-Policy', CSP);
    res.type('text/html').send(PAGE);
  });
  router.get('/docs/:asset', (req, res) => {
    const asset = String(req.params.asset);
    if (asset === 'init.js') return void res.type('text/javascript').send(INIT);
    // Own keys only: `__proto__` or `constructor` must not find Object's prototype.
    const type = Object.hasOwn(ASSETS, asset) ? ASSETS[asset] : undefined;
    if (!type) throw new AppError(ErrorType.NotFound, `no asset ${asset}`, { param: 'asset' });
    res.setHeader('Cache-Control', 'public, max-age=86400');
    res.type(type).sendFile(join(ASSET_DIR, asset));
  });
  return router;
}

const tag = 'Documentation';

/** The docs of this file's routes. */
export const openApiRouteDocs: RouteDoc[] = defineRoutes([
  {
    method: 'get',
    path: '/openapi.json',
    tag,
    auth: 'none',
    summary: 'This OpenAPI 3.1 document',
    responses: { 200: { description: 'The document', schema: z.looseObject({ openapi: z.string() }) } },
  },
  {
    method: 'get',
    path: '/docs',
    tag,
    auth: 'none',
    summary: 'Browsable API docs (Swagger UI)',
    responses: { 200: { description: 'HTML page', schema: z.string(), contentType: 'text/html' } },
  },
  {
    method: 'get',
    path: '/docs/:asset',
    tag,
    auth: 'none',
    summary: 'Assets of the docs page',
    params: z.object({ asset: z.string() }),
    responses: {
      200: { description: 'CSS, JavaScript or image', schema: z.string(), contentType: 'text/plain' },
    },
    errors: [404],
  },
]);

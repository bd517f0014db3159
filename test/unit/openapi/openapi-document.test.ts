import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { createApp, type AppDeps } from '../../../src/api/create-app';
import { apiDocument, ROUTE_DOCS } from '../../../src/api/openapi/api-document';
import { mountedRoutes } from '../../../src/api/openapi/express-routes';
import { createMetrics } from '../../../src/observability/metrics';

type Json = Record<string, unknown>;

/**
 * Any dependency createApp asks for, so every optional route set is mounted; numeric options
 * (`maxBodyBytes`, `…Ms`, `…S`) are left unset so their defaults apply.
 */
const anything: unknown = new Proxy(() => anything, {
  get: (_t, p) => (p === 'then' || /(Bytes|Ms|S)$/.test(String(p)) ? undefined : anything),
});

function appWithEveryRoute() {
  const given: Partial<AppDeps> = {
    metrics: createMetrics('openapi-test'),
    adminToken: 'x'.repeat(32),
    maxBodyBytes: 1024,
    waitMaxMs: 1000,
    checks: [],
  };
  const deps = new Proxy(given, {
    get: (t, p) => (p in t ? t[p as keyof AppDeps] : anything),
    has: () => true,
  });
  return createApp(deps as AppDeps);
}

const schemaPath = join(
  dirname(require.resolve('@seriousme/openapi-schema-validator/package.json')),
  'schemas/v3.1/schema.json',
);

/** Every Schema Object in the document: components and inline ones in operations. */
function schemaObjects(doc: Json): { where: string; schema: Json }[] {
  const out: { where: string; schema: Json }[] = [];
  const components = (doc.components as Json).schemas as Record<string, Json>;
  for (const [k, s] of Object.entries(components)) out.push({ where: `components.schemas.${k}`, schema: s });
  const walk = (node: unknown, where: string): void => {
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node as Json)) {
      if (k === 'schema' && v && typeof v === 'object')
        out.push({ where: `${where}.schema`, schema: v as Json });
      else walk(v, `${where}.${k}`);
    }
  };
  walk(doc.paths, 'paths');
  return out;
}

describe('OpenAPI document', () => {
  const doc = apiDocument();

  test('is a valid OpenAPI 3.1 document', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(schemaPath, 'utf8')));
    const ok = validate(doc);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  test('every Schema Object is valid JSON Schema 2020-12 and every $ref resolves', () => {
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    const components = (doc.components as Json).schemas as Json;
    const rewrite = (s: Json): Json =>
      JSON.parse(
        JSON.stringify(s).replace(/#\/components\/schemas\//g, 'https://schemas.invalid/components#/$defs/'),
      ) as Json;
    ajv.addSchema(rewrite({ $id: 'https://schemas.invalid/components', $defs: components }));
    for (const { where, schema } of schemaObjects(doc)) {
      expect(() => ajv.compile(rewrite(schema))).not.toThrow();
      expect(where).toBeTruthy();
    }
    const text = JSON.stringify(doc);
    for (const m of text.matchAll(/"\$ref":"#\/components\/(schemas|responses)\/([^"]+)"/g)) {
      expect(((doc.components as Json)[m[1]!] as Json)[m[2]!]).toBeDefined();
    }
  });

  test('every route the app mounts is documented, and every documented route is mounted', () => {
    const mounted = mountedRoutes(appWithEveryRoute()).map((r) => `${r.method.toUpperCase()} ${r.path}`);
    const documented = ROUTE_DOCS.map((d) => `${d.method.toUpperCase()} ${d.path}`);
    expect(mounted.length).toBeGreaterThan(20);
    expect(mounted.filter((r) => !documented.includes(r))).toEqual([]);
    expect(documented.filter((r) => !mounted.includes(r))).toEqual([]);
  });

  test('bearer security schemes, and errors in the one error shape', () => {
    const components = doc.components as Json;
    expect(components.securitySchemes).toMatchObject({
      apiKey: { type: 'http', scheme: 'bearer' },
      adminToken: { type: 'http', scheme: 'bearer' },
    });
    const error = (components.schemas as Json).Error as Json;
    expect(error).toMatchObject({ required: ['error'] });
    const paths = doc.paths as Record<string, Record<string, { responses: Record<string, Json> }>>;
    const submit = paths['/v1/inference']!.post!.responses;
    expect(submit['400']).toEqual({ $ref: '#/components/responses/Error400' });
    expect(submit['429']).toEqual({ $ref: '#/components/responses/Error429' });
    expect(paths['/admin/tenants']!.get!).toMatchObject({ security: [{ adminToken: [] }] });
  });
});

import { z } from 'zod';
import { ERROR_STATUS_TEXT, errorBodySchema } from './error-schema';
import { objectProperties, toJsonSchema } from './json-schema';
import type { RouteDoc } from './route-doc';

type Json = Record<string, unknown>;

/** Options of {@link buildOpenApiDocument}. */
export interface DocumentOptions {
  title: string;
  version: string;
  description?: string;
  /** Server URLs. @default ['/'] (the document is served by the API itself) */
  servers?: string[];
}

/** `/v1/inference/:id` → `/v1/inference/{id}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

const SECURITY: Record<string, Json[]> = {
  tenant: [{ apiKey: [] }],
  admin: [{ adminToken: [] }],
  none: [],
};

/** Error statuses every route of a kind can answer, whatever the route says. */
function implicitErrors(doc: RouteDoc): number[] {
  const auth = doc.auth ?? 'tenant';
  const out = [500];
  if (auth !== 'none') out.push(401);
  if (auth === 'tenant') out.push(403);
  if (doc.body) out.push(400, 413);
  if (doc.query || doc.params) out.push(400);
  return out;
}

function operation(doc: RouteDoc, defs: Record<string, Json>): Json {
  const pathNames = [...doc.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
  const fromParams = doc.params ? objectProperties(doc.params, defs) : [];
  const parameters: Json[] = pathNames.map((name) => {
    const p = fromParams.find((x) => x.name === name);
    return { name, in: 'path', required: true, schema: p?.schema ?? { type: 'string' } };
  });
  if (doc.query) {
    for (const q of objectProperties(doc.query, defs)) {
      parameters.push({ name: q.name, in: 'query', required: q.required, schema: q.schema });
    }
  }
  for (const [name, description] of Object.entries(doc.headers ?? {})) {
    parameters.push({ name, in: 'header', required: false, description, schema: { type: 'string' } });
  }
  const responses: Json = {};
  for (const [status, r] of Object.entries(doc.responses)) {
    responses[status] = {
      description: r.description,
      ...(r.headers
        ? {
            headers: Object.fromEntries(
              Object.entries(r.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }]),
            ),
          }
        : {}),
      ...(r.schema
        ? { content: { [r.contentType ?? 'application/json']: { schema: toJsonSchema(r.schema, defs) } } }
        : {}),
    };
  }
  for (const status of [...new Set([...implicitErrors(doc), ...(doc.errors ?? [])])].sort()) {
    responses[String(status)] ??= { $ref: `#/components/responses/Error${status}` };
  }
  const body =
    doc.body === undefined
      ? undefined
      : doc.body instanceof z.ZodType
        ? { 'application/json': doc.body }
        : doc.body;
  return {
    operationId: `${doc.method}${openApiPath(doc.path)
      .split(/[/{}_.-]+/)
      .filter(Boolean)
      .map((w) => w[0]!.toUpperCase() + w.slice(1))
      .join('')}`,
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    tags: [doc.tag],
    security: SECURITY[doc.auth ?? 'tenant'],
    ...(parameters.length ? { parameters } : {}),
    ...(body
      ? {
          requestBody: {
            required: true,
            content: Object.fromEntries(
              Object.entries(body).map(([type, s]) => [type, { schema: toJsonSchema(s, defs) }]),
            ),
          },
        }
      : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document of the given routes. */
export function buildOpenApiDocument(routes: readonly RouteDoc[], opts: DocumentOptions): Json {
  const defs: Record<string, Json> = {};
  const paths: Record<string, Record<string, Json>> = {};
  const sorted = [...routes].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
  for (const doc of sorted) {
    const p = (paths[openApiPath(doc.path)] ??= {});
    if (p[doc.method]) throw new Error(`route documented twice: ${doc.method.toUpperCase()} ${doc.path}`);
    p[doc.method] = operation(doc, defs);
  }
  const errorRef = toJsonSchema(errorBodySchema, defs);
  const errorResponses = Object.fromEntries(
    Object.entries(ERROR_STATUS_TEXT).map(([status, description]) => [
      `Error${status}`,
      { description, content: { 'application/json': { schema: errorRef } } },
    ]),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: opts.title,
      version: opts.version,
      ...(opts.description ? { description: opts.description } : {}),
    },
    servers: (opts.servers ?? ['/']).map((url) => ({ url })),
    tags: [...new Set(sorted.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: defs,
      responses: errorResponses,
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'A tenant API key: `Authorization: Bearer sk-…`',
        },
        adminToken: { type: 'http', scheme: 'bearer', description: 'The operator token (ADMIN_TOKEN)' },
      },
    },
  };
}

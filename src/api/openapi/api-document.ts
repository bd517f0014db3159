import { accountRouteDocs } from './docs/account-docs';
import { adminRouteDocs } from './docs/admin-docs';
import { healthRouteDocs } from './docs/health-docs';
import { inferenceRouteDocs } from './docs/inference-docs';
import { openAiRouteDocs } from './docs/openai-docs';
import { responsesRouteDocs } from './docs/responses-docs';
import { webhookRouteDocs } from './docs/webhook-docs';
import { batchRouteDocs } from '../routes/batch-routes';
import { fileRouteDocs } from '../routes/file-routes';
import { openApiRouteDocs } from '../routes/openapi-routes';
import { buildOpenApiDocument } from './build-document';
import type { RouteDoc } from './route-doc';

/**
 * Route tables of the route files written before the generator existed; new route files export
 * their own table next to their router (like openapi-routes.ts) and join this list.
 */
export const ROUTE_DOCS: readonly RouteDoc[] = [
  ...openApiRouteDocs,
  ...batchRouteDocs,
  ...fileRouteDocs,
  ...healthRouteDocs,
  ...inferenceRouteDocs,
  ...openAiRouteDocs,
  ...responsesRouteDocs,
  ...accountRouteDocs,
  ...adminRouteDocs,
  ...webhookRouteDocs,
];

/** The API's OpenAPI 3.1 document, from every route table. */
export function apiDocument(routes: readonly RouteDoc[] = ROUTE_DOCS): Record<string, unknown> {
  return buildOpenApiDocument(routes, {
    title: 'durable-inference',
    version: '1',
    description:
      'Multi-tenant LLM inference where every request is a durable Temporal workflow. ' +
      'Errors always have the shape `{ "error": { "type", "message", "param"? } }`.',
  });
}

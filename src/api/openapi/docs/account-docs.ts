import { usageQuerySchema } from '../../query-schemas';
import { defineRoutes } from '../route-doc';
import { quotaView, usageView } from './views';

const tag = 'Account';

/** src/api/routes/quota-routes.ts (tenant part) and usage-routes.ts. */
export const accountRouteDocs = defineRoutes([
  {
    method: 'get',
    path: '/v1/quota',
    tag,
    summary: 'Every limit: limit, used, reserved, remaining, resets_at',
    responses: { 200: { description: 'The tenant’s quota', schema: quotaView } },
  },
  {
    method: 'get',
    path: '/v1/usage',
    tag,
    summary: 'Usage from the ledger by day and/or model (JSON, or CSV with `Accept: text/csv`)',
    query: usageQuerySchema,
    responses: { 200: { description: 'Usage', schema: usageView } },
  },
]);

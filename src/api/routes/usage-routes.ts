import { Router } from 'express';
import type { UsageRepo } from '../../requests/usage-repo';
import { tenantOf } from '../auth';
import { parseStrict, usageQuerySchema } from '../query-schemas';
import { sendUsage } from './usage-view';

/** GET /v1/usage: the caller's usage from the ledger, by day and/or model. */
export function usageRoutes(deps: { usage: UsageRepo }): Router {
  const router = Router();
  router.get('/v1/usage', async (req, res) => {
    const tenant = tenantOf(req);
    const q = parseStrict(usageQuerySchema, req.query);
    const rows = await deps.usage.query({ tenantId: tenant.id, from: q.from, to: q.to, groupBy: q.group_by });
    sendUsage(req, res, { from: q.from, to: q.to, groupBy: q.group_by }, rows);
  });
  return router;
}

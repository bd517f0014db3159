import { Router } from 'express';
import { encodeCursor } from '../../requests/list-cursor';
import type { RequestsRepo } from '../../requests/requests-repo';
import { tenantOf } from '../auth';
import { listQuerySchema, parseStrict } from '../query-schemas';
import { toView } from './inference-routes';

/** GET /v1/inference: the caller's requests, newest first, a page at a time. */
export function listRoutes(deps: { requests: RequestsRepo }): Router {
  const router = Router();
  router.get('/v1/inference', async (req, res) => {
    const tenant = tenantOf(req);
    const q = parseStrict(listQuerySchema, req.query);
    const page = await deps.requests.list({
      tenantId: tenant.id,
      status: q.status,
      model: q.model,
      acceptedAfter: q.created_after,
      after: q.cursor,
      limit: q.limit,
    });
    res.json({
      object: 'list',
      data: page.data.map(toView),
      has_more: page.next !== undefined,
      next_cursor: page.next ? encodeCursor(page.next) : null,
    });
  });
  return router;
}

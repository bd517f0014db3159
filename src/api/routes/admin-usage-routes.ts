import { Router } from 'express';
import type { UsageRepo } from '../../requests/usage-repo';
import type { AdminActionRecord, AdminAuditRepo } from '../../tenants/admin-audit-repo';
import { adminUsageQuerySchema, auditQuerySchema, parseStrict } from '../query-schemas';
import { sendUsage } from './usage-view';

const entryView = (e: AdminActionRecord): Record<string, unknown> => ({
  id: e.id,
  object: 'admin_action',
  at: e.at.toISOString(),
  actor: e.actor,
  action: e.action,
  tenant: e.tenantId,
  target: e.target,
  params: e.params,
});

/** GET /admin/usage (every tenant, grouped by tenant) and GET /admin/audit-log. */
export function adminUsageRoutes(deps: { usage: UsageRepo; audit: AdminAuditRepo }): Router {
  const router = Router();
  router.get('/admin/usage', async (req, res) => {
    const q = parseStrict(adminUsageQuerySchema, req.query);
    const rows = await deps.usage.query({ tenantId: q.tenant, from: q.from, to: q.to, groupBy: q.group_by });
    sendUsage(req, res, { from: q.from, to: q.to, groupBy: q.group_by }, rows);
  });

  router.get('/admin/audit-log', async (req, res) => {
    const q = parseStrict(auditQuerySchema, req.query);
    const page = await deps.audit.list({
      tenantId: q.tenant,
      action: q.action,
      beforeId: q.cursor,
      limit: q.limit,
    });
    const last = page.data[page.data.length - 1];
    res.json({
      object: 'list',
      data: page.data.map(entryView),
      has_more: page.hasMore,
      next_cursor: page.hasMore && last ? String(last.id) : null,
    });
  });
  return router;
}

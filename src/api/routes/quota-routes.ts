import { Router } from 'express';
import { AppError } from '../../errors/app-error';
import type { QuotaStore } from '../../quota/quota-store';
import { ErrorType } from '../../shared/error-types';
import { limitsOverrideSchema, limitsToWire } from '../../tenants/limits';
import type { TenantsRepo } from '../../tenants/tenants-repo';
import { tenantOf } from '../auth';
import { tenantIdSchema } from '../../tenants/tenant-id';

/** GET /v1/quota for tenants. */
export function quotaRoutes(deps: { quota: QuotaStore }): Router {
  const router = Router();
  router.get('/v1/quota', async (req, res) => {
    const tenant = tenantOf(req);
    res.json({
      object: 'quota',
      tenant: tenant.id,
      tier: tenant.tier,
      limits: await deps.quota.status(tenant.id),
    });
  });
  return router;
}

/**
 * Operator endpoints under /admin. Mount them behind `adminAuth(ADMIN_TOKEN)` (createApp does, before
 * the body parser). Limits are bounded by their column types (LIMIT_MAX): a value PostgreSQL cannot
 * hold is a 400 naming the field, and nothing is written.
 */
export function adminRoutes(deps: { quota: QuotaStore; tenants: TenantsRepo }): Router {
  const router = Router();

  router.put('/admin/tenants/:id/limits', async (req, res) => {
    const id = tenantIdSchema.safeParse(req.params.id);
    if (!id.success)
      throw new AppError(ErrorType.InvalidRequest, id.error.issues[0]?.message ?? 'bad id', { param: 'id' });
    const body = limitsOverrideSchema.parse(req.body ?? {});
    const updated = await deps.tenants.setLimits(id.data, body);
    if (!updated) throw new AppError(ErrorType.NotFound, `no tenant ${id.data}`, { param: 'id' });
    await deps.quota.setLimits(id.data, updated.limits);
    res.json({ tenant: updated.id, tier: updated.tier, limits: limitsToWire(updated.limits) });
  });

  router.get('/admin/tenants/:id/limits', async (req, res) => {
    // A malformed id names no tenant (and a NUL in it would be a PostgreSQL error): 404 unread.
    const id = tenantIdSchema.safeParse(req.params.id);
    const tenant = id.success ? await deps.tenants.get(id.data) : undefined;
    if (!tenant) throw new AppError(ErrorType.NotFound, `no tenant ${req.params.id}`, { param: 'id' });
    res.json({ tenant: tenant.id, tier: tenant.tier, limits: limitsToWire(tenant.limits) });
  });
  return router;
}

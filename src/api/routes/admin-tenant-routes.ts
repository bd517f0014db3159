import { Router, type Request } from 'express';
import type { Logger } from '../../observability/logger';
import type { QuotaStore } from '../../quota/quota-store';
import { limitsToWire } from '../../tenants/limits';
import type { TenantAdminRepo, TenantAdminView, TenantChanges } from '../../tenants/tenant-admin-repo';
import type { AdminAuditRepo } from '../../tenants/admin-audit-repo';
import type { ShutdownCounts, TenantShutdown } from '../../tenants/tenant-shutdown';
import type { KeyInvalidator } from '../key-invalidation';
import { parseStrict, tenantListQuerySchema } from '../query-schemas';
import { actorOf, logAction, refusal, tenantParam } from './admin-common';
import { createTenantSchema, updateTenantSchema } from './admin-schemas';

/** The admin view of a tenant. */
export function tenantView(t: TenantAdminView): Record<string, unknown> {
  return {
    id: t.id,
    object: 'tenant',
    name: t.name,
    tier: t.tier,
    disabled: t.disabled,
    limits: limitsToWire(t.limits),
    created_at: t.createdAt.toISOString(),
  };
}

/** Dependencies of the admin tenant routes. */
export interface AdminTenantDeps {
  tenantAdmin: TenantAdminRepo;
  audit: AdminAuditRepo;
  quota: QuotaStore;
  invalidator: KeyInvalidator;
  /** Cancels a disabled tenant's requests and batches. @default none */
  shutdown?: Pick<TenantShutdown, 'cancelWork'>;
  logger: Logger;
}

/** /admin/tenants: create, list, show, change (name, tier, disabled), disable, enable. */
export function adminTenantRoutes(deps: AdminTenantDeps): Router {
  const router = Router();

  // PUT /admin/tenants/:id/limits lives in quota-routes.ts; this records it in the action log and
  // drops cached lookups of the tenant (they carry its limits) once it succeeded.
  router.put('/admin/tenants/:id/limits', (req, res, next) => {
    const actor = actorOf(req);
    res.on('finish', () => {
      if (res.statusCode !== 200) return;
      const a = {
        actor,
        action: 'tenant.set_limits',
        tenantId: req.params.id,
        target: req.params.id,
        params: req.body as Record<string, unknown>,
      };
      logAction(deps.logger, a);
      deps.audit.record(a).catch((err: unknown) => deps.logger.error({ err }, 'action log write failed'));
      void deps.invalidator.publish({ tenant: String(req.params.id) });
    });
    next();
  });

  router.post('/admin/tenants', async (req, res) => {
    const actor = actorOf(req);
    const body = parseStrict(createTenantSchema, req.body);
    const created = await deps.tenantAdmin.create(body, actor);
    if (typeof created === 'string') throw refusal(created, { tenant: body.id, tier: body.tier });
    logAction(deps.logger, {
      actor,
      action: 'tenant.create',
      tenantId: body.id,
      params: { name: body.name, tier: body.tier },
    });
    res.status(201).location(`/admin/tenants/${created.id}`).json(tenantView(created));
  });

  router.get('/admin/tenants', async (req, res) => {
    const q = parseStrict(tenantListQuerySchema, req.query);
    const page = await deps.tenantAdmin.list({ after: q.cursor, limit: q.limit });
    const last = page.data[page.data.length - 1];
    res.json({
      object: 'list',
      data: page.data.map(tenantView),
      has_more: page.hasMore,
      next_cursor: page.hasMore && last ? last.id : null,
    });
  });

  router.get('/admin/tenants/:id', async (req, res) => {
    const id = tenantParam(req);
    const t = await deps.tenantAdmin.get(id);
    if (!t) throw refusal('no_tenant', { tenant: id });
    res.json(tenantView(t));
  });

  const change = async (
    req: Request,
    changes: TenantChanges,
    action: string,
  ): Promise<Record<string, unknown>> => {
    const id = tenantParam(req);
    const actor = actorOf(req);
    const r = await deps.tenantAdmin.update(id, changes, actor, action);
    if (typeof r === 'string') throw refusal(r, { tenant: id, tier: changes.tier });
    logAction(deps.logger, { actor, action, tenantId: id, params: { ...changes } });
    if (r.before.tier !== r.after.tier) await deps.quota.setLimits(id, r.after.limits);
    // Cached lookups carry disabled, tier and limits: every replica drops them now, and a disable
    // also ends the tenant's open streams and waits there.
    const disabled = r.after.disabled && changes.disabled === true;
    await deps.invalidator.publish({ tenant: id, ...(disabled ? { effect: 'disable' as const } : {}) });
    // Idempotent: a retried disable (after a 503 here) finishes the cancels; so does the sweep.
    const cancelled: ShutdownCounts | undefined = disabled ? await deps.shutdown?.cancelWork(id) : undefined;
    return { ...tenantView(r.after), ...(cancelled ? { cancelled } : {}) };
  };

  router.patch('/admin/tenants/:id', async (req, res) => {
    tenantParam(req);
    const body = parseStrict(updateTenantSchema, req.body);
    res.json(await change(req, body, 'tenant.update'));
  });
  /**
   * Disables a tenant (as PATCH `disabled: true` does): its keys are refused, its open streams and
   * waits end (every replica), and its queued and running requests and unfinished batches are
   * cancelled; the answer counts them in `cancelled`.
   */
  router.post('/admin/tenants/:id/disable', async (req, res) => {
    res.json(await change(req, { disabled: true }, 'tenant.disable'));
  });
  router.post('/admin/tenants/:id/enable', async (req, res) => {
    res.json(await change(req, { disabled: false }, 'tenant.enable'));
  });
  return router;
}

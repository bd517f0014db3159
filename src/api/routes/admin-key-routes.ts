import { Router } from 'express';
import type { Logger } from '../../observability/logger';
import type { ApiKeyRecord, ApiKeysRepo, CreatedApiKey } from '../../tenants/api-keys-repo';
import type { KeyInvalidator } from '../key-invalidation';
import { parseStrict } from '../query-schemas';
import { actorOf, keyParam, logAction, refusal, tenantParam } from './admin-common';
import { createKeySchema, rotateKeySchema } from './admin-schemas';

/** A key as lists show it: id and visible prefix, never the secret or its hash. */
export function keyView(k: ApiKeyRecord, now = new Date()): Record<string, unknown> {
  return {
    id: k.id,
    object: 'api_key',
    tenant: k.tenantId,
    prefix: k.prefix || null,
    label: k.label,
    status: !k.revokedAt ? 'active' : k.revokedAt > now ? 'expiring' : 'revoked',
    created_at: k.createdAt.toISOString(),
    revoked_at: k.revokedAt?.toISOString() ?? null,
  };
}

/** A key just made: the one answer that carries its secret. */
const createdView = (k: CreatedApiKey): Record<string, unknown> => ({ ...keyView(k), secret: k.secret });

/** /admin/tenants/:id/keys: create, list, revoke, rotate. */
export function adminKeyRoutes(deps: {
  keys: ApiKeysRepo;
  invalidator: KeyInvalidator;
  logger: Logger;
}): Router {
  const router = Router();

  router.post('/admin/tenants/:id/keys', async (req, res) => {
    const tenant = tenantParam(req);
    const actor = actorOf(req);
    const body = parseStrict(createKeySchema, req.body);
    const key = await deps.keys.create(tenant, body.label, actor);
    if (!key) throw refusal('no_tenant', { tenant });
    logAction(deps.logger, {
      actor,
      action: 'api_key.create',
      tenantId: tenant,
      target: key.id,
      params: { prefix: key.prefix },
    });
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json(createdView(key));
  });

  router.get('/admin/tenants/:id/keys', async (req, res) => {
    const tenant = tenantParam(req);
    const keys = await deps.keys.list(tenant);
    if (!keys) throw refusal('no_tenant', { tenant });
    const now = new Date();
    res.json({ object: 'list', data: keys.map((k) => keyView(k, now)) });
  });

  router.post('/admin/tenants/:id/keys/:keyId/revoke', async (req, res) => {
    const tenant = tenantParam(req);
    const keyId = keyParam(req);
    const actor = actorOf(req);
    const r = await deps.keys.revoke(tenant, keyId, actor);
    if (typeof r === 'string') throw refusal(r, { tenant, key: keyId });
    logAction(deps.logger, {
      actor,
      action: 'api_key.revoke',
      tenantId: tenant,
      target: keyId,
      params: { prefix: r.prefix },
    });
    // Every replica refuses the key and ends the streams and waits it opened.
    const propagated = await deps.invalidator.publish({ tenant, key: keyId, effect: 'revoke' });
    res.json({ ...keyView(r), propagated });
  });

  router.post('/admin/tenants/:id/keys/:keyId/rotate', async (req, res) => {
    const tenant = tenantParam(req);
    const keyId = keyParam(req);
    const actor = actorOf(req);
    const body = parseStrict(rotateKeySchema, req.body);
    const r = await deps.keys.rotate(tenant, keyId, { graceS: body.grace_s, label: body.label }, actor);
    if (typeof r === 'string') throw refusal(r, { tenant, key: keyId });
    logAction(deps.logger, {
      actor,
      action: 'api_key.rotate',
      tenantId: tenant,
      target: keyId,
      params: { grace_s: body.grace_s, new_key_id: r.created.id, new_prefix: r.created.prefix },
    });
    // Also with a grace period: replicas re-read the key, learn its end and cache it no longer.
    // Its open streams and waits end with it: now, or when the grace ends.
    const propagated = await deps.invalidator.publish({
      tenant,
      key: keyId,
      ...(body.grace_s && r.old.revokedAt
        ? { effect: 'expire' as const, until: r.old.revokedAt.getTime() }
        : { effect: 'revoke' as const }),
    });
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json({ ...createdView(r.created), replaced: { ...keyView(r.old), propagated } });
  });
  return router;
}

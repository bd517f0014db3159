import { timingSafeEqual } from 'node:crypto';
import express, { Router, type RequestHandler } from 'express';
import { faultsBodySchema } from './fault-schema';
import type { FaultInjector } from './faults';
import type { Logger } from '../../src/observability/logger';
import type { Slots } from './slots';
import type { ServiceStats } from './stats';
import { ServiceError } from './errors';
import { parseBody } from './validation';

/** Options for {@link adminRoutes}. */
export interface AdminRoutesOptions {
  slots: Slots;
  stats: ServiceStats;
  faults: FaultInjector;
  /** Mounts `/_faults`. */
  faultApi: boolean;
  /** Bearer token every `/_faults` request must carry; required when `faultApi` is on. */
  adminToken?: string;
  logger?: Logger;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * 401 unless `Authorization: Bearer <token>`: the fault API makes every caller's requests fail, so
 * anyone who can reach the port must not be able to drive it (issue 26).
 */
function requireToken(token: string, logger?: Logger): RequestHandler {
  return (req, res, next) => {
    const bearer = /^Bearer (.+)$/i.exec(req.get('authorization') ?? '')?.[1];
    if (bearer && sameSecret(bearer, token)) return next();
    logger?.warn(
      { method: req.method, path: req.path, remote: req.socket.remoteAddress, token_given: !!bearer },
      'fault API request refused: no or a wrong admin token',
    );
    res.set('WWW-Authenticate', 'Bearer');
    next(
      new ServiceError(401, 'The fault API requires Authorization: Bearer <MODEL_SERVICE_ADMIN_TOKEN>.', {
        code: 'invalid_admin_token',
      }),
    );
  };
}

/** `/health`, `/_stats` and, when enabled, the runtime fault API `/_faults` (token required). */
export function adminRoutes(o: AdminRoutesOptions): Router {
  const router = Router();
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok', slots: o.slots.size, busy: o.slots.inUse, queued: o.slots.queued });
  });
  router.get('/_stats', (_req, res) => {
    res.json({ ...o.stats, by_status: { ...o.stats.by_status }, peak_busy: o.slots.peak });
  });
  if (!o.faultApi) return router;
  if (!o.adminToken) throw new Error('the fault API needs an admin token (MODEL_SERVICE_ADMIN_TOKEN)');

  router.use('/_faults', requireToken(o.adminToken, o.logger));
  router.get('/_faults', (_req, res) => void res.json(o.faults.state()));
  router.put('/_faults', express.json(), (req, res) => {
    const body = parseBody(faultsBodySchema, req.body);
    o.faults.configure(body);
    o.logger?.info({ faults: body }, 'faults configured');
    res.json(o.faults.state());
  });
  router.delete('/_faults', (_req, res) => {
    o.faults.clear();
    o.logger?.info('faults cleared');
    res.json(o.faults.state());
  });
  return router;
}

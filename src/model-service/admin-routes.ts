import express, { Router } from 'express';
import { faultsBodySchema } from './fault-schema';
import type { FaultInjector } from './faults';
import type { Logger } from '../observability/logger';
import type { Slots } from './slots';
import type { ServiceStats } from './stats';
import { parseBody } from './validation';

/** Options for {@link adminRoutes}. */
export interface AdminRoutesOptions {
  slots: Slots;
  stats: ServiceStats;
  faults: FaultInjector;
  /** Mounts `/_faults`. */
  faultApi: boolean;
  logger?: Logger;
}

/** `/health`, `/_stats` and, when enabled, the runtime fault API `/_faults`. */
export function adminRoutes(o: AdminRoutesOptions): Router {
  const router = Router();
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok', slots: o.slots.size, busy: o.slots.inUse, queued: o.slots.queued });
  });
  router.get('/_stats', (_req, res) => {
    res.json({ ...o.stats, by_status: { ...o.stats.by_status }, peak_busy: o.slots.peak });
  });
  if (!o.faultApi) return router;

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

import type { Pool } from 'pg';
import type { Env } from '../config/schema';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { PgQuotaStateSource } from './quota-state-source';
import { QuotaStore } from './quota-store';
import type { QuotaRedis } from './redis-client';

/**
 * A process's quota store on its Redis, rebuilding from the PostgreSQL ledger, with the configured
 * prefix, reservation TTL and record retention; every rebuild is counted and logged.
 */
export function createQuotaStore(
  cfg: Env,
  deps: { redis: QuotaRedis; pool: Pool; metrics: Metrics; logger: Logger },
): QuotaStore {
  return new QuotaStore({
    redis: deps.redis,
    source: new PgQuotaStateSource(deps.pool),
    prefix: cfg.REDIS_KEY_PREFIX,
    reservationTtlS: cfg.QUOTA_RESERVATION_TTL_S,
    recordRetentionS: cfg.QUOTA_RECORD_RETENTION_S,
    onRebuild: (tenant, open) => {
      deps.metrics.quotaRebuilds.inc({ tenant });
      deps.logger.warn({ tenant, openReservations: open }, 'quota counters rebuilt from the ledger');
    },
  });
}

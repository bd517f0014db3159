import { Connection, Client } from '@temporalio/client';
import { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { Env } from '../config/schema';
import { createPool } from '../db/pool';
import type { Metrics } from '../observability/metrics';
import { PgQuotaStateSource } from '../quota/quota-state-source';
import { QuotaStore } from '../quota/quota-store';
import type { Logger } from '../observability/logger';

/** Temporal frontend address: TEMPORAL_ADDRESS or the local dev server. */
export function temporalAddress(cfg: Env): string {
  return cfg.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
}

export function createRedis(cfg: Env, name: string): Redis {
  return new Redis(cfg.REDIS_URL, {
    connectionName: name,
    maxRetriesPerRequest: 3,
    enableOfflineQueue: true,
  });
}

export function createPgPool(cfg: Env, name: string): Pool {
  return createPool({
    connectionString: cfg.DATABASE_URL,
    max: cfg.DATABASE_POOL_SIZE,
    applicationName: name,
  });
}

export async function createTemporalClient(cfg: Env): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: temporalAddress(cfg) });
  return { client: new Client({ connection, namespace: cfg.TEMPORAL_NAMESPACE }), connection };
}

export function createQuotaStore(
  cfg: Env,
  deps: { redis: Redis; pool: Pool; metrics: Metrics; logger: Logger },
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

/** Runs `close` callbacks once on SIGINT/SIGTERM, then exits. */
export function onShutdown(logger: Logger, close: () => Promise<void>): void {
  let closing = false;
  const handler = (signal: string): void => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    close()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}

import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import type { Pool } from 'pg';
import { loadConfig } from '../../src/config/load-config';
import { createPool } from '../../src/db/pool';
import { PgQuotaStateSource } from '../../src/quota/quota-state-source';
import { QuotaStore, type QuotaStoreOptions } from '../../src/quota/quota-store';
import type { QuotaRedis } from '../../src/quota/redis-client';
import type { LimitsOverride } from '../../src/tenants/limits';
import { TenantsRepo } from '../../src/tenants/tenants-repo';

/** Where the fixture's Redis comes from. */
export interface QuotaFixtureRedis {
  /** A client to use instead of TEST_REDIS_URL; the fixture does not close it. @default new client */
  redis?: QuotaRedis;
}

/**
 * A QuotaStore on real Redis (one server, or a cluster client passed in) and PostgreSQL with its own
 * key prefix and tenant.
 */
export async function quotaFixture(
  limits: LimitsOverride,
  opts: Partial<QuotaStoreOptions> = {},
  { redis: given }: QuotaFixtureRedis = {},
) {
  const suffix = randomBytes(4).toString('hex');
  const pool = createPool({ connectionString: process.env.TEST_DATABASE_URL!, max: 5 });
  const redis = given ?? new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
  const prefix = `qtest-${suffix}`;
  const tenantId = `q-${suffix}`;
  const tenants = new TenantsRepo(pool);
  const addTenant = async (id: string, l: LimitsOverride): Promise<string> => {
    await tenants.ensure({ id, name: 'quota test', tier: 'free' });
    await tenants.setLimits(id, l);
    return id;
  };
  await addTenant(tenantId, limits);
  const defaults = loadConfig({ APP_ENV: 'development' });
  const make = (o: Partial<QuotaStoreOptions> = {}): QuotaStore =>
    new QuotaStore({
      redis,
      source: new PgQuotaStateSource(pool),
      prefix,
      reservationTtlS: defaults.QUOTA_RESERVATION_TTL_S,
      recordRetentionS: defaults.QUOTA_RECORD_RETENTION_S,
      ...opts,
      ...o,
    });
  return {
    pool,
    redis,
    prefix,
    tenantId,
    tenants,
    quota: make(),
    make,
    /** Creates another tenant (same prefix) with these limits; returns its id. */
    addTenant,
    /** Writes a completed request (unless `withRequest` is false) and its ledger row, as recordResult does. */
    ledgerRow: (tenant: string, id: string, tokens: number, at: Date, withRequest = true) =>
      ledgerRow(pool, tenant, id, tokens, at, withRequest),
    /** Deletes only this fixture's keys (other tests share the Redis). */
    async flush() {
      await deleteKeys(redis, `${prefix}:*`);
    },
    async close() {
      await this.flush();
      await Promise.allSettled([pool.end(), given ? Promise.resolve() : redis.quit()]);
    },
  };
}

/** Deletes every key matching `pattern`, on every master of a cluster. */
export async function deleteKeys(redis: QuotaRedis, pattern: string): Promise<void> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    // One key per DEL: keys of different tenants live in different slots.
    for (const key of await node.keys(pattern)) await node.del(key);
  }
}

export async function ledgerRow(
  pool: Pool,
  tenantId: string,
  id: string,
  tokens: number,
  at: Date,
  withRequest = true,
): Promise<void> {
  if (withRequest) {
    await pool.query(
      `INSERT INTO requests (id, tenant_id, model, status, max_tokens, prompt_tokens, estimated_tokens, total_tokens, completion_tokens, accepted_at)
       VALUES ($1, $2, 'm', 'completed', 10, 0, $3, $3, $3, $4)`,
      [id, tenantId, tokens, at],
    );
  }
  await pool.query(
    `INSERT INTO usage_ledger (request_id, tenant_id, model, prompt_tokens, completion_tokens, total_tokens, window_at)
     VALUES ($1, $2, 'm', 0, $3, $3, $4)`,
    [id, tenantId, tokens, at],
  );
}

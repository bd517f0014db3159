import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createPool } from '../../src/db/pool';
import { PgQuotaStateSource } from '../../src/quota/quota-state-source';
import { QuotaStore, type QuotaStoreOptions } from '../../src/quota/quota-store';
import type { LimitsOverride } from '../../src/tenants/limits';
import { TenantsRepo } from '../../src/tenants/tenants-repo';

/** A QuotaStore on real Redis and PostgreSQL with its own key prefix and tenant. */
export async function quotaFixture(limits: LimitsOverride, opts: Partial<QuotaStoreOptions> = {}) {
  const suffix = randomBytes(4).toString('hex');
  const pool = createPool({ connectionString: process.env.TEST_DATABASE_URL!, max: 5 });
  const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
  const prefix = `qtest-${suffix}`;
  const tenantId = `q-${suffix}`;
  const tenants = new TenantsRepo(pool);
  await tenants.ensure({ id: tenantId, name: 'quota test', tier: 'free' });
  await tenants.setLimits(tenantId, limits);
  const make = (o: Partial<QuotaStoreOptions> = {}): QuotaStore =>
    new QuotaStore({ redis, source: new PgQuotaStateSource(pool), prefix, ...opts, ...o });
  return {
    pool,
    redis,
    prefix,
    tenantId,
    tenants,
    quota: make(),
    make,
    /** Deletes only this fixture's keys (other tests share the Redis). */
    async flush() {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
    },
    async close() {
      await this.flush();
      await Promise.allSettled([pool.end(), redis.quit()]);
    },
  };
}

import { createAtRestSealer } from '../codec/at-rest-sealer';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config';
import type { Pool } from 'pg';
import type { Env } from '../config/schema';
import { createLogger, type Logger } from '../observability/logger';
import { createMetrics, type Metrics } from '../observability/metrics';
import { abandonedRequestSweeper } from './abandoned-request-sweeper';
import { RequestsRepo } from '../requests/requests-repo';
import { createPgPool, createTemporalClient } from '../runtime/resources';
import { createQuotaStore } from './create-quota-store';
import { createQuotaRedis as createRedis } from './redis-client';
import type { QuotaStore } from './quota-store';
import { TenantsRepo } from '../tenants/tenants-repo';
import { QuotaAuditor } from './quota-audit';

const USAGE = `npm run quota -- <command> [--tenant <id>]
  audit [--fix]   compare the ledger with Redis usage (current minute, day, month); --fix corrects drift
  rebuild         drop the tenant's Redis counters and rebuild them from the ledger and open requests
  sweep           reclaim abandoned reservations now, and end the rows no workflow will end
  status          print every limit's limit/used/reserved/remaining`;

/** Operator commands for quotas (see docs/quota.md). */
async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { tenant: { type: 'string' }, fix: { type: 'boolean', default: false } },
  });
  const cmd = positionals[0];
  if (!cmd || !['audit', 'rebuild', 'sweep', 'status'].includes(cmd)) {
    console.error(USAGE);
    process.exit(2);
  }
  const cfg = loadConfig();
  const logger = createLogger({ component: 'quota-cli', level: cfg.LOG_LEVEL });
  const metrics = createMetrics('quota-cli');
  const pool = createPgPool(cfg, 'quota-cli');
  const redis = createRedis(cfg, 'quota-cli');
  const quota = createQuotaStore(cfg, { redis, pool, metrics, logger });
  try {
    const tenants = values.tenant ? [values.tenant] : (await new TenantsRepo(pool).list()).map((t) => t.id);
    for (const tenant of tenants) {
      if (cmd === 'audit') {
        const auditor = new QuotaAuditor({ pool, redis, quota, metrics, logger });
        console.log(JSON.stringify({ tenant, drift: await auditor.audit(tenant, values.fix ?? false) }));
      } else if (cmd === 'rebuild') {
        await quota.forceRebuild(tenant);
        console.log(JSON.stringify({ tenant, rebuilt: true }));
      } else if (cmd === 'status') {
        console.log(JSON.stringify({ tenant, limits: await quota.status(tenant) }));
      }
    }
    if (cmd === 'sweep')
      console.log(JSON.stringify(await sweep(cfg, { quota, pool, metrics, logger }, values.tenant)));
  } finally {
    await Promise.allSettled([pool.end(), redis.quit()]);
  }
}

/**
 * One sweep as the orchestration worker's sweeper does it: a reclaimed reservation whose workflow
 * never started (or was terminated) also ends its request row, which no later sweep would find.
 */
async function sweep(
  cfg: Env,
  deps: { quota: QuotaStore; pool: Pool; metrics: Metrics; logger: Logger },
  tenant: string | undefined,
): Promise<{ reclaimed: number; rows_ended: number }> {
  const { client, connection } = await createTemporalClient(cfg);
  try {
    let ended = 0;
    const sweeper = abandonedRequestSweeper({
      ...deps,
      requests: new RequestsRepo(
        deps.pool,
        createAtRestSealer(cfg, { registry: deps.metrics.registry, logger: deps.logger }),
      ),
      workflows: client.workflow,
      intervalS: 60,
      onEnded: () => ended++,
    });
    return { reclaimed: await sweeper.sweepOnce(tenant), rows_ended: ended };
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

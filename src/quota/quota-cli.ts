import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config';
import { createLogger } from '../observability/logger';
import { createMetrics } from '../observability/metrics';
import { createPgPool, createQuotaStore, createRedis } from '../runtime/resources';
import { TenantsRepo } from '../tenants/tenants-repo';
import { QuotaAuditor } from './quota-audit';
import { QuotaSweeper } from './quota-sweeper';

const USAGE = `npm run quota -- <command> [--tenant <id>]
  audit [--fix]   compare the ledger with Redis usage (current minute, day, month); --fix corrects drift
  rebuild         drop the tenant's Redis counters and rebuild them from the ledger and open requests
  sweep           reclaim abandoned reservations now
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
      console.log(
        JSON.stringify({ reclaimed: await new QuotaSweeper(quota, metrics, logger, 60).sweepOnce() }),
      );
  } finally {
    await Promise.allSettled([pool.end(), redis.quit()]);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

import { NativeConnection, Worker } from '@temporalio/worker';
import { createOrchestrationActivities } from '../activities';
import { loadConfig } from '../src/config/load-config';
import { createLogger } from '../src/observability/logger';
import { createMetrics } from '../src/observability/metrics';
import { startMetricsServer } from '../src/observability/metrics-server';
import { QuotaAuditor } from '../src/quota/quota-audit';
import { QuotaSweeper } from '../src/quota/quota-sweeper';
import { RequestsRepo } from '../src/requests/requests-repo';
import { TenantsRepo } from '../src/tenants/tenants-repo';
import { createPgPool, createQuotaStore, createRedis, temporalAddress } from '../src/runtime/resources';

/** Runs workflows and the PostgreSQL/Redis activities, plus the quota sweeper. */
async function main(): Promise<void> {
  const cfg = loadConfig();
  const logger = createLogger({ component: 'orchestration-worker', level: cfg.LOG_LEVEL });
  const metrics = createMetrics('orchestration-worker');
  const pool = createPgPool(cfg, 'orchestration-worker');
  const redis = createRedis(cfg, 'orchestration-worker');
  const quota = createQuotaStore(cfg, { redis, pool, metrics, logger });
  const connection = await NativeConnection.connect({ address: temporalAddress(cfg) });
  const worker = await Worker.create({
    connection,
    namespace: cfg.TEMPORAL_NAMESPACE,
    taskQueue: cfg.ORCHESTRATION_TASK_QUEUE,
    workflowsPath: require.resolve('../workflows'),
    activities: createOrchestrationActivities({ requests: new RequestsRepo(pool), quota, metrics, logger }),
  });
  // Redis may have restarted empty: rebuild every tenant's counters from the ledger before serving.
  for (const t of await new TenantsRepo(pool).list()) await quota.rebuildTenant(t.id);
  const sweeper = new QuotaSweeper(quota, metrics, logger, cfg.QUOTA_SWEEP_INTERVAL_S);
  sweeper.start();
  const auditor = new QuotaAuditor({ pool, redis, quota, metrics, logger });
  const auditTimer = setInterval(() => {
    auditor.auditAll(true).catch((err: unknown) => logger.error({ err }, 'quota audit failed'));
  }, cfg.QUOTA_AUDIT_INTERVAL_S * 1000);
  auditTimer.unref();
  const metricsServer = await startMetricsServer(metrics.registry, cfg.ORCHESTRATION_METRICS_PORT);
  logger.info(
    { taskQueue: cfg.ORCHESTRATION_TASK_QUEUE, metricsPort: cfg.ORCHESTRATION_METRICS_PORT },
    'orchestration worker started',
  );
  // The Temporal runtime shuts workers down on SIGINT/SIGTERM; run() resolves once in-flight tasks finish.
  await worker.run();
  logger.info('orchestration worker stopped');
  clearInterval(auditTimer);
  await sweeper.stop();
  metricsServer.close();
  await Promise.allSettled([pool.end(), redis.quit(), connection.close()]);
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

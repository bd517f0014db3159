import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createBatchActivities, createOrchestrationActivities } from '../activities';
import { createAtRestSealer } from '../src/codec/at-rest-sealer';
import { createDataConverter } from '../src/codec/data-converter';
import { loadConfig } from '../src/config/load-config';
import { idempotencyMetrics } from '../src/idempotency/idempotency-metrics';
import { IdempotencyStore } from '../src/idempotency/idempotency-store';
import { DependencyMonitor } from '../src/observability/dependency-monitor';
import { createLogger } from '../src/observability/logger';
import { createMetrics } from '../src/observability/metrics';
import { startMetricsServer } from '../src/observability/metrics-server';
import { QuotaAuditor } from '../src/quota/quota-audit';
import { abandonedRequestSweeper } from '../src/requests/abandoned-requests';
import { RequestsRepo } from '../src/requests/requests-repo';
import { BatchRepo } from '../src/batches/batch-repo';
import { batchMetrics } from '../src/batches/batch-metrics';
import { TenantsRepo } from '../src/tenants/tenants-repo';
import {
  createPgPool,
  createQuotaStore,
  createRedis,
  onShutdown,
  temporalAddress,
} from '../src/runtime/resources';
import { installWorkerRuntime, WorkerSupervisor } from '../src/runtime/worker-supervisor';
import { createTokenRelay } from '../src/streams/create-relay';
import { createWebhooks } from '../src/webhooks/create-webhooks';
import { workflowSource } from '../src/runtime/workflow-bundle';

/**
 * Runs workflows and the PostgreSQL/Redis activities, plus the quota sweeper. Survives PostgreSQL,
 * Redis and Temporal restarting (not ready on /readyz meanwhile); stops gracefully on SIGTERM.
 */
async function main(): Promise<void> {
  const cfg = loadConfig();
  installWorkerRuntime({ sdkMetricsPort: cfg.ORCHESTRATION_SDK_METRICS_PORT, metricsHost: cfg.METRICS_HOST });
  const logger = createLogger({ component: 'orchestration-worker', level: cfg.LOG_LEVEL });
  // One converter for the worker and the client: both read and write encrypted payloads.
  const dataConverter = createDataConverter(cfg);
  const metrics = createMetrics('orchestration-worker');
  const dependencies = new DependencyMonitor({ gauge: metrics.dependencyUp, logger });
  const pool = createPgPool(cfg, 'orchestration-worker', { dependencies });
  const redis = createRedis(cfg, 'orchestration-worker', { dependencies });
  const quota = createQuotaStore(cfg, { redis, pool, metrics, logger });
  // Starts webhook delivery workflows from the activities; lazy, so Temporal may come up later.
  const client = new Client({
    connection: Connection.lazy({ address: temporalAddress(cfg) }),
    namespace: cfg.TEMPORAL_NAMESPACE,
    dataConverter,
  });
  const atRest = createAtRestSealer(cfg, { registry: metrics.registry, logger });
  const webhooks = createWebhooks(cfg, { pool, client, registry: metrics.registry, logger, atRest });
  const requests = new RequestsRepo(pool, atRest);
  const activities = {
    ...createOrchestrationActivities({
      requests,
      quota,
      metrics,
      logger,
      relay: createTokenRelay(cfg, redis, atRest),
      webhooks: webhooks.notifier,
    }),
    ...webhooks.activities,
  };
  const workflows = await workflowSource(cfg.WORKFLOW_BUNDLE_PATH);
  const supervisor = new WorkerSupervisor({
    logger,
    dependencies,
    connect: () => NativeConnection.connect({ address: temporalAddress(cfg) }),
    createWorkers: async (connection) => [
      await Worker.create({
        connection,
        namespace: cfg.TEMPORAL_NAMESPACE,
        taskQueue: cfg.ORCHESTRATION_TASK_QUEUE,
        dataConverter,
        ...workflows,
        activities: {
          ...activities,
          ...createBatchActivities({
            batches: new BatchRepo(pool, atRest),
            metrics: batchMetrics(metrics.registry),
            logger,
            requestDeadlineS: cfg.REQUEST_DEADLINE_S,
          }),
        },
      }),
    ],
  });
  // Redis may have restarted empty: rebuild every tenant's counters from the ledger before serving.
  for (const t of await new TenantsRepo(pool).list()) await quota.rebuildTenant(t.id);
  const sweeper = abandonedRequestSweeper({
    quota,
    requests,
    workflows: client.workflow,
    metrics,
    logger,
    intervalS: cfg.QUOTA_SWEEP_INTERVAL_S,
  });
  sweeper.start();
  const auditor = new QuotaAuditor({ pool, redis, quota, metrics, logger });
  const auditTimer = setInterval(() => {
    auditor.auditAll(true).catch((err: unknown) => logger.error({ err }, 'quota audit failed'));
  }, cfg.QUOTA_AUDIT_INTERVAL_S * 1000);
  auditTimer.unref();
  // Idempotency keys live IDEMPOTENCY_TTL_S; an hourly sweep keeps the table to about a day of keys.
  const idempotency = new IdempotencyStore(pool, cfg.IDEMPOTENCY_TTL_S, atRest);
  const idempotencyExpired = idempotencyMetrics(metrics.registry).expired;
  const idempotencyTimer = setInterval(() => {
    idempotency
      .deleteExpired(10_000)
      .then((n) => {
        idempotencyExpired.inc(n);
        if (n) logger.info({ deleted: n }, 'expired idempotency keys deleted');
      })
      .catch((err: unknown) => logger.warn({ err }, 'idempotency key cleanup failed'));
  }, 3600_000);
  idempotencyTimer.unref();
  const checks = dependencies.watch([
    { name: 'postgres', check: () => pool.query('SELECT 1') },
    { name: 'redis', check: () => redis.ping() },
    { name: 'temporal', check: () => supervisor.ping() },
  ]);
  dependencies.start();
  const metricsServer = await startMetricsServer({
    registry: metrics.registry,
    port: cfg.ORCHESTRATION_METRICS_PORT,
    host: cfg.METRICS_HOST,
    checks,
  });
  onShutdown(logger, async () => {
    dependencies.stop();
    // In-flight workflow and activity tasks finish before the workers stop.
    await supervisor.stop();
    clearInterval(auditTimer);
    clearInterval(idempotencyTimer);
    await sweeper.stop();
    metricsServer.close();
    await Promise.allSettled([pool.end(), redis.quit(), client.connection.close()]);
    logger.info('orchestration worker stopped');
  });
  logger.info(
    { taskQueue: cfg.ORCHESTRATION_TASK_QUEUE, metricsPort: cfg.ORCHESTRATION_METRICS_PORT },
    'orchestration worker started',
  );
  await supervisor.run();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

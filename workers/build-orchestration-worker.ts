import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Pool } from 'pg';
import { createBatchActivities, createWebhookActivities } from '../activities';
import { batchMetrics } from '../src/batches/batch-metrics';
import { BatchRepo } from '../src/batches/batch-repo';
import { PostgresBatchFilesWriter } from '../src/batches/batch-files-writer';
import { fileBatchMetrics } from '../src/batches/file-batch-metrics';
import { FilesRepo } from '../src/files/files-repo';
import { createAtRestSealer, type AtRestSealer } from '../src/codec/at-rest-sealer';
import { createDataConverter } from '../src/codec/data-converter';
import type { Env } from '../src/config/schema';
import { idempotencyMetrics } from '../src/idempotency/idempotency-metrics';
import { IdempotencyStore } from '../src/idempotency/idempotency-store';
import { DependencyMonitor } from '../src/observability/dependency-monitor';
import { createLogger, type Logger } from '../src/observability/logger';
import { createMetrics, type Metrics } from '../src/observability/metrics';
import { startMetricsServer } from '../src/observability/metrics-server';
import { QuotaAuditor } from '../src/quota/quota-audit';
import type { QuotaStore } from '../src/quota/quota-store';
import type { QuotaSweeper } from '../src/quota/quota-sweeper';
import { abandonedRequestSweeper } from '../src/quota/abandoned-request-sweeper';
import { RequestsRepo } from '../src/requests/requests-repo';
import { createQuotaStore } from '../src/quota/create-quota-store';
import { createQuotaRedis as createRedis, type QuotaRedis } from '../src/quota/redis-client';
import { createPgPool, temporalAddress } from '../src/runtime/resources';
import { WorkerSupervisor } from '../src/runtime/worker-supervisor';
import { workflowSource } from '../src/runtime/workflow-bundle';
import { TenantsRepo } from '../src/tenants/tenants-repo';
import { createWebhooks, webhookPolicy } from '../src/webhooks/create-webhooks';
import { buildOrchestrationActivities } from './orchestration-activities';

/** What a test changes in {@link buildOrchestrationWorker}; the process main passes none. */
/**
 * The batch activities' dependencies: the repo (whose terminal transitions run the batch-ended
 * hooks, e.g. OpenAI-shaped `batch.*` webhooks) and the writer of output and error files.
 */
function batchActivityDeps(
  pool: Pool,
  atRest: AtRestSealer,
  registry: Metrics['registry'],
  logger: Logger,
  cfg: Env,
): Parameters<typeof createBatchActivities>[0] {
  const batches = new BatchRepo(pool, atRest);
  return {
    batches,
    metrics: batchMetrics(registry),
    fileMetrics: fileBatchMetrics(registry),
    logger,
    requestDeadlineS: cfg.REQUEST_DEADLINE_S,
    files: new PostgresBatchFilesWriter(batches, new FilesRepo(pool, atRest)),
  };
}

export interface OrchestrationWorkerOptions {
  /** @default a JSON logger, component `orchestration-worker`, at LOG_LEVEL */
  logger?: Logger;
  /**
   * Port of /metrics, /healthz and /readyz; 0 takes a free one (a test runs several workers in one
   * process). @default cfg.ORCHESTRATION_METRICS_PORT
   */
  metricsPort?: number;
}

/** The orchestration worker process's objects, built from the config; {@link start} serves them. */
export interface OrchestrationWorker {
  pool: Pool;
  redis: QuotaRedis;
  /** Starts webhook deliveries from the activities, and asks the sweeper whether a workflow runs. */
  client: Client;
  quota: QuotaStore;
  metrics: Metrics;
  atRest: AtRestSealer;
  sweeper: QuotaSweeper;
  auditor: QuotaAuditor;
  supervisor: WorkerSupervisor;
  /** http://host:port of /metrics, /healthz and /readyz once {@link start} resolved. */
  metricsUrl(): string;
  /**
   * Rebuilds every tenant's quota counters from the ledger (Redis may have restarted empty), starts
   * the sweeper, the audit, the idempotency-key cleanup and /metrics, then the Temporal workers,
   * which keep running (restarted across Temporal outages) until {@link stop}.
   */
  start(): Promise<void>;
  /** In-flight workflow and activity tasks finish, then everything stops and the clients close. */
  stop(): Promise<void>;
}

/**
 * The orchestration worker's composition root: runs workflows and the PostgreSQL/Redis activities,
 * plus the quota sweeper and audit. `workers/orchestration-worker.ts` and the test stack both build
 * it here, so tests run it as production does.
 */
export async function buildOrchestrationWorker(
  cfg: Env,
  opts: OrchestrationWorkerOptions = {},
): Promise<OrchestrationWorker> {
  const logger = opts.logger ?? createLogger({ component: 'orchestration-worker', level: cfg.LOG_LEVEL });
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
  // Every activity of the orchestration task queue, registered here and nowhere else.
  const activities = {
    ...buildOrchestrationActivities(cfg, { pool, redis, quota, client, metrics, logger, atRest, webhooks }),
    ...createWebhookActivities({
      repo: webhooks.repo,
      policy: webhookPolicy(cfg),
      metrics: webhooks.metrics,
      logger,
      timeoutMs: cfg.WEBHOOK_TIMEOUT_MS,
    }),
    ...createBatchActivities({
      ...batchActivityDeps(pool, atRest, metrics.registry, logger, cfg),
      webhooks: webhooks.notifier,
    }),
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
        activities,
      }),
    ],
  });
  const sweeper = abandonedRequestSweeper({
    quota,
    requests,
    workflows: client.workflow,
    metrics,
    logger,
    intervalS: cfg.QUOTA_SWEEP_INTERVAL_S,
  });
  const auditor = new QuotaAuditor({ pool, redis, quota, metrics, logger });
  // Idempotency keys live IDEMPOTENCY_TTL_S; an hourly sweep keeps the table to about a day of keys.
  const idempotency = new IdempotencyStore(pool, cfg.IDEMPOTENCY_TTL_S, atRest);
  const idempotencyExpired = idempotencyMetrics(metrics.registry).expired;
  const checks = dependencies.watch([
    { name: 'postgres', check: () => pool.query('SELECT 1') },
    { name: 'redis', check: () => redis.ping() },
    { name: 'temporal', check: () => supervisor.ping() },
  ]);
  const timers: NodeJS.Timeout[] = [];
  let metricsServer: Server | undefined;
  let running: Promise<void> | undefined;

  return {
    pool,
    redis,
    client,
    quota,
    metrics,
    atRest,
    sweeper,
    auditor,
    supervisor,
    metricsUrl() {
      if (!metricsServer) throw new Error('orchestration worker not started');
      return `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}`;
    },
    async start() {
      // Redis may have restarted empty: rebuild every tenant's counters from the ledger before serving.
      for (const t of await new TenantsRepo(pool).list()) await quota.rebuildTenant(t.id);
      sweeper.start();
      timers.push(
        setInterval(() => {
          auditor.auditAll(true).catch((err: unknown) => logger.error({ err }, 'quota audit failed'));
        }, cfg.QUOTA_AUDIT_INTERVAL_S * 1000),
        setInterval(() => {
          idempotency
            .deleteExpired(10_000)
            .then((n) => {
              idempotencyExpired.inc(n);
              if (n) logger.info({ deleted: n }, 'expired idempotency keys deleted');
            })
            .catch((err: unknown) => logger.warn({ err }, 'idempotency key cleanup failed'));
        }, 3600_000),
      );
      timers.forEach((t) => t.unref());
      dependencies.start();
      metricsServer = await startMetricsServer({
        registry: metrics.registry,
        port: opts.metricsPort ?? cfg.ORCHESTRATION_METRICS_PORT,
        host: cfg.METRICS_HOST,
        checks,
      });
      running = supervisor.run();
      logger.info(
        {
          taskQueue: cfg.ORCHESTRATION_TASK_QUEUE,
          metricsPort: opts.metricsPort ?? cfg.ORCHESTRATION_METRICS_PORT,
        },
        'orchestration worker started',
      );
    },
    async stop() {
      dependencies.stop();
      // In-flight workflow and activity tasks finish before the workers stop.
      await supervisor.stop();
      await running;
      timers.forEach((t) => clearInterval(t));
      await sweeper.stop();
      metricsServer?.close();
      await Promise.allSettled([pool.end(), redis.quit(), client.connection.close()]);
      logger.info('orchestration worker stopped');
    },
  };
}

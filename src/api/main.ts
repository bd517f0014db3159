import { loadConfig } from '../config/load-config';
import { loadRegistry } from '../models/model-registry';
import { DependencyMonitor } from '../observability/dependency-monitor';
import { createLogger } from '../observability/logger';
import { createMetrics } from '../observability/metrics';
import { startMetricsServer } from '../observability/metrics-server';
import { QueueStatsExporter } from '../observability/queue-stats-exporter';
import { createQuotaRedis as createRedis } from '../quota/redis-client';
import { createPgPool, createTemporalClient, onShutdown } from '../runtime/resources';
import { installWorkerRuntime } from '../runtime/worker-supervisor';
// The process main sits above every composition root: the API's workflow worker is one of them.
import { buildApiWorker } from '../../workers/build-api-worker';
import { buildApi } from './build-api';

/**
 * Serves the REST API on API_PORT. Survives PostgreSQL, Redis and Temporal restarting: meanwhile
 * /readyz answers 503 and requests that need the missing service answer 503 with Retry-After.
 */
async function main(): Promise<void> {
  const cfg = loadConfig();
  // The worker's signals are this process's (onShutdown drains it); before anything touches Temporal.
  if (cfg.API_EAGER_START) installWorkerRuntime({ metricsHost: cfg.METRICS_HOST });
  const logger = createLogger({ component: 'api', level: cfg.LOG_LEVEL });
  const metrics = createMetrics('api');
  const dependencies = new DependencyMonitor({ gauge: metrics.dependencyUp, logger });
  const pool = createPgPool(cfg, 'api', { dependencies });
  const redis = createRedis(cfg, 'api', { dependencies });
  const { client, connection } = await createTemporalClient(cfg);
  const registry = loadRegistry(cfg);
  // Eager workflow start: a workflow worker in this process, on the connection its starts go out on.
  const worker = cfg.API_EAGER_START
    ? await buildApiWorker(cfg, { pool, redis, client, metrics, logger, dependencies })
    : undefined;
  // Model auth secrets are named by the registry, so they are looked up by name (tokenize calls).
  const api = buildApi(cfg, {
    pool,
    redis,
    client,
    registry,
    metrics,
    logger,
    dependencies,
    secretsEnv: process.env,
    ...(worker ? { eager: { client: worker.client, ready: () => worker.ready() } } : {}),
  });
  worker?.start();
  if (!worker)
    logger.info('eager workflow start off (API_EAGER_START=false): first tasks go to the task queue');
  dependencies.start();
  const queueStats = new QueueStatsExporter({
    connection,
    namespace: cfg.TEMPORAL_NAMESPACE,
    queues: [
      ...[...registry.queues().keys()].map((name) => ({ name, kind: 'activity' as const })),
      { name: cfg.ORCHESTRATION_TASK_QUEUE, kind: 'workflow' },
    ],
    metrics,
    logger,
  });
  queueStats.start();
  const server = api.app.listen(cfg.API_PORT, cfg.API_HOST, () =>
    logger.info({ port: cfg.API_PORT, models: registry.names() }, 'api listening'),
  );
  server.keepAliveTimeout = 65_000;
  // Metrics on their own port: the public one never tells the world the tenants' traffic.
  const metricsServer = await startMetricsServer({
    registry: metrics.registry,
    port: cfg.API_METRICS_PORT,
    host: cfg.API_HOST,
  });
  onShutdown(logger, async () => {
    metricsServer.close();
    dependencies.stop();
    queueStats.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await api.stop();
    // Drained after the starts: the workflow tasks it runs finish before its connection closes.
    await worker?.stop();
    await Promise.allSettled([pool.end(), redis.quit(), connection.close()]);
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

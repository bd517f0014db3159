import { NativeConnection, Worker } from '@temporalio/worker';
import { createGpuActivities } from '../activities';
import { createAtRestSealer } from '../src/codec/at-rest-sealer';
import { createDataConverter } from '../src/codec/data-converter';
import { loadConfig } from '../src/config/load-config';
import { createAdapters, servedQueues } from '../src/models/create-adapters';
import { loadRegistry } from '../src/models/model-registry';
import { DependencyMonitor } from '../src/observability/dependency-monitor';
import { createLogger } from '../src/observability/logger';
import { createMetrics } from '../src/observability/metrics';
import { startMetricsServer } from '../src/observability/metrics-server';
import { RequestsRepo } from '../src/requests/requests-repo';
import { createPgPool, createRedis, onShutdown, temporalAddress } from '../src/runtime/resources';
import { installWorkerRuntime, WorkerSupervisor } from '../src/runtime/worker-supervisor';
import { createTokenRelay } from '../src/streams/create-relay';

/**
 * Calls model services. One process serves one or more GPU task queues; on each queue it runs at
 * most as many calls as the queue's models have GPU slots. On SIGTERM it stops polling, lets
 * in-flight calls finish for GPU_DRAIN_GRACE_S, then cancels them so Temporal retries them elsewhere
 * (nothing is charged for a call that did not complete). Survives PostgreSQL and Temporal restarting.
 */
async function main(): Promise<void> {
  const cfg = loadConfig();
  installWorkerRuntime({ sdkMetricsPort: cfg.GPU_SDK_METRICS_PORT, metricsHost: cfg.METRICS_HOST });
  const logger = createLogger({ component: 'gpu-worker', level: cfg.LOG_LEVEL });
  const dataConverter = createDataConverter(cfg);
  const metrics = createMetrics('gpu-worker');
  const dependencies = new DependencyMonitor({ gauge: metrics.dependencyUp, logger });
  const registry = loadRegistry(cfg);
  const queues = servedQueues(cfg, registry);
  // Model auth secrets are named by the registry, so they are looked up by name here.
  const adapters = createAdapters(registry, queues, process.env, { metrics: metrics.registry, logger });
  const pool = createPgPool(cfg, 'gpu-worker', { dependencies });
  // Redis carries only the live token stream here: best effort, so it is not a readiness dependency.
  const redis = createRedis(cfg, 'gpu-worker');
  const atRest = createAtRestSealer(cfg, { registry: metrics.registry, logger });
  const activities = createGpuActivities({
    adapters,
    requests: new RequestsRepo(pool, atRest),
    metrics,
    logger,
    relay: createTokenRelay(cfg, redis, atRest),
  });
  const createWorkers = (connection: NativeConnection): Promise<Worker[]> =>
    Promise.all(
      queues.map((taskQueue) => {
        const slots = Math.max(
          ...(registry.queues().get(taskQueue) ?? []).map((m) => m.gpu_slots_per_worker),
          1,
        );
        logger.info({ taskQueue, slots }, 'serving GPU queue');
        return Worker.create({
          connection,
          namespace: cfg.TEMPORAL_NAMESPACE,
          taskQueue,
          dataConverter,
          activities,
          maxConcurrentActivityTaskExecutions: slots,
          shutdownGraceTime: `${cfg.GPU_DRAIN_GRACE_S}s`,
          // Cancels arrive with heartbeat responses: keep them under a second.
          maxHeartbeatThrottleInterval: '500ms',
          defaultHeartbeatThrottleInterval: '500ms',
        });
      }),
    );
  const supervisor = new WorkerSupervisor({
    logger,
    dependencies,
    connect: () => NativeConnection.connect({ address: temporalAddress(cfg) }),
    createWorkers,
  });
  const checks = dependencies.watch([
    { name: 'postgres', check: () => pool.query('SELECT 1') },
    { name: 'temporal', check: () => supervisor.ping() },
  ]);
  dependencies.start();
  const metricsServer = await startMetricsServer({
    registry: metrics.registry,
    port: cfg.GPU_METRICS_PORT,
    host: cfg.METRICS_HOST,
    checks,
  });
  onShutdown(logger, async () => {
    dependencies.stop();
    // Stops polling; in-flight calls get GPU_DRAIN_GRACE_S to finish, then are cancelled.
    await supervisor.stop();
    metricsServer.close();
    await pool.end().catch(() => undefined);
    redis.disconnect();
    logger.info('gpu worker stopped');
  });
  logger.info(
    { queues, models: [...adapters.keys()], metricsPort: cfg.GPU_METRICS_PORT },
    'gpu worker started',
  );
  await supervisor.run();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

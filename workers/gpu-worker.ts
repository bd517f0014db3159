import { NativeConnection, Worker } from '@temporalio/worker';
import { createGpuActivities } from '../activities';
import { loadConfig } from '../src/config/load-config';
import { createAdapters, servedQueues } from '../src/models/create-adapters';
import { loadRegistry } from '../src/models/model-registry';
import { createLogger } from '../src/observability/logger';
import { createMetrics } from '../src/observability/metrics';
import { startMetricsServer } from '../src/observability/metrics-server';
import { RequestsRepo } from '../src/requests/requests-repo';
import { createPgPool, temporalAddress } from '../src/runtime/resources';

/**
 * Calls model services. One process serves one or more GPU task queues; on each queue it runs at
 * most as many calls as the queue's models have GPU slots. On SIGTERM it stops polling, lets
 * in-flight calls finish for GPU_DRAIN_GRACE_S, then cancels them so Temporal retries them elsewhere
 * (nothing is charged for a call that did not complete).
 */
async function main(): Promise<void> {
  const cfg = loadConfig();
  const logger = createLogger({ component: 'gpu-worker', level: cfg.LOG_LEVEL });
  const metrics = createMetrics('gpu-worker');
  const registry = loadRegistry(cfg);
  const queues = servedQueues(cfg, registry);
  // Model auth secrets are named by the registry, so they are looked up by name here.
  const adapters = createAdapters(registry, queues, process.env);
  const pool = createPgPool(cfg, 'gpu-worker');
  const connection = await NativeConnection.connect({ address: temporalAddress(cfg) });
  const activities = createGpuActivities({ adapters, requests: new RequestsRepo(pool), metrics, logger });
  const workers = await Promise.all(
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
        activities,
        maxConcurrentActivityTaskExecutions: slots,
        shutdownGraceTime: `${cfg.GPU_DRAIN_GRACE_S}s`,
        // Cancels arrive with heartbeat responses: keep them under a second.
        maxHeartbeatThrottleInterval: '500ms',
        defaultHeartbeatThrottleInterval: '500ms',
      });
    }),
  );
  const metricsServer = await startMetricsServer(metrics.registry, cfg.GPU_METRICS_PORT);
  logger.info(
    { queues, models: [...adapters.keys()], metricsPort: cfg.GPU_METRICS_PORT },
    'gpu worker started',
  );
  await Promise.all(workers.map((w) => w.run()));
  logger.info('gpu worker stopped');
  metricsServer.close();
  await Promise.allSettled([pool.end(), connection.close()]);
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Redis, Cluster } from 'ioredis';
import type { Pool } from 'pg';
import { createGpuActivities } from '../activities';
import { createAtRestSealer } from '../src/codec/at-rest-sealer';
import { createDataConverter } from '../src/codec/data-converter';
import type { Env } from '../src/config/schema';
import { createAdapters, servedQueues } from '../src/models/create-adapters';
import { loadRegistry, type ModelRegistry } from '../src/models/model-registry';
import { DependencyMonitor } from '../src/observability/dependency-monitor';
import { createLogger, type Logger } from '../src/observability/logger';
import { createMetrics, type Metrics } from '../src/observability/metrics';
import { startMetricsServer } from '../src/observability/metrics-server';
import { RequestsRepo } from '../src/requests/requests-repo';
import { createQuotaRedis as createRedis } from '../src/quota/redis-client';
import { createQuotaStore } from '../src/quota/create-quota-store';
import { ReservationSlices } from '../src/quota/reservation-slices';
import { sliceMetrics } from '../src/quota/slice-metrics';
import { createPgPool, temporalAddress } from '../src/runtime/resources';
import { WorkerSupervisor } from '../src/runtime/worker-supervisor';
import { createTokenRelay } from '../src/streams/create-relay';

/** What {@link buildGpuWorker} takes besides the config. */
export interface GpuWorkerOptions {
  /**
   * Where the model auth secrets the registry names are looked up (`auth_token_env`): the process
   * environment in production. @default none (no model needs a secret)
   */
  secretsEnv?: NodeJS.ProcessEnv;
  /** @default a JSON logger, component `gpu-worker`, at LOG_LEVEL */
  logger?: Logger;
  /** The models served. @default loadRegistry(cfg) (MODEL_REGISTRY, or the built-in one) */
  registry?: ModelRegistry;
  /**
   * Port of /metrics, /healthz and /readyz; 0 takes a free one (a test runs several workers in one
   * process). @default cfg.GPU_METRICS_PORT
   */
  metricsPort?: number;
}

/** The GPU worker process's objects, built from the config; {@link start} serves them. */
export interface GpuWorker {
  pool: Pool;
  redis: Redis | Cluster;
  metrics: Metrics;
  /** The GPU task queues served (GPU_TASK_QUEUES, else every queue of the registry). */
  queues: string[];
  supervisor: WorkerSupervisor;
  /** http://127.0.0.1:port of /metrics, /healthz and /readyz once {@link start} resolved. */
  metricsUrl(): string;
  /** Starts /metrics, then the Temporal workers, which run until {@link stop}. */
  start(): Promise<void>;
  /**
   * Stops polling; in-flight calls get GPU_DRAIN_GRACE_S to finish, then are cancelled so Temporal
   * retries them elsewhere. Then the clients close.
   */
  stop(): Promise<void>;
}

/**
 * The GPU worker's composition root: calls model services. One process serves one or more GPU task
 * queues; on each it runs at most as many calls as the queue's models have GPU slots.
 * `workers/gpu-worker.ts` and the test stack both build it here.
 */
export function buildGpuWorker(cfg: Env, opts: GpuWorkerOptions = {}): GpuWorker {
  const logger = opts.logger ?? createLogger({ component: 'gpu-worker', level: cfg.LOG_LEVEL });
  const dataConverter = createDataConverter(cfg);
  const metrics = createMetrics('gpu-worker');
  const dependencies = new DependencyMonitor({ gauge: metrics.dependencyUp, logger });
  const registry = opts.registry ?? loadRegistry(cfg);
  const queues = servedQueues(cfg, registry);
  const adapters = createAdapters(registry, queues, opts.secretsEnv ?? {}, {
    metrics: metrics.registry,
    logger,
  });
  const pool = createPgPool(cfg, 'gpu-worker', { dependencies });
  // Redis carries the live token stream (best effort) and the reservation slices: a slice that
  // cannot be reserved fails its attempt, which Temporal retries, so Redis is not a readiness
  // dependency here either.
  const redis = createRedis(cfg, 'gpu-worker');
  const atRest = createAtRestSealer(cfg, { registry: metrics.registry, logger });
  const requests = new RequestsRepo(pool, atRest);
  const quota = createQuotaStore(cfg, { redis, pool, metrics, logger });
  // Every activity of the GPU task queues, registered here and nowhere else.
  const activities = createGpuActivities({
    adapters,
    requests,
    metrics,
    logger,
    relay: createTokenRelay(cfg, redis, atRest),
    slices: new ReservationSlices({
      quota,
      persist: (id, tokens) => requests.raiseReservation(id, tokens),
      metrics: sliceMetrics(metrics.registry),
      logger,
    }),
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
  const metricsPort = opts.metricsPort ?? cfg.GPU_METRICS_PORT;
  let metricsServer: Server | undefined;
  let running: Promise<void> | undefined;

  return {
    pool,
    redis,
    metrics,
    queues,
    supervisor,
    metricsUrl() {
      if (!metricsServer) throw new Error('gpu worker not started');
      return `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}`;
    },
    async start() {
      dependencies.start();
      metricsServer = await startMetricsServer({
        registry: metrics.registry,
        port: metricsPort,
        host: cfg.METRICS_HOST,
        checks,
      });
      running = supervisor.run();
      logger.info({ queues, models: [...adapters.keys()], metricsPort }, 'gpu worker started');
    },
    async stop() {
      dependencies.stop();
      // Stops polling; in-flight calls get GPU_DRAIN_GRACE_S to finish, then are cancelled.
      await supervisor.stop();
      await running;
      metricsServer?.close();
      await pool.end().catch(() => undefined);
      redis.disconnect();
      logger.info('gpu worker stopped');
    },
  };
}

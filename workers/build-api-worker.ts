import { hostname } from 'node:os';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Pool } from 'pg';
import { createAtRestSealer } from '../src/codec/at-rest-sealer';
import { createDataConverter } from '../src/codec/data-converter';
import type { Env } from '../src/config/schema';
import type { DependencyReporter } from '../src/observability/dependency-monitor';
import type { Logger } from '../src/observability/logger';
import type { Metrics } from '../src/observability/metrics';
import { createQuotaStore } from '../src/quota/create-quota-store';
import type { QuotaRedis } from '../src/quota/redis-client';
import { temporalAddress } from '../src/runtime/resources';
import { WorkerSupervisor } from '../src/runtime/worker-supervisor';
import { workflowSource } from '../src/runtime/workflow-bundle';
import { buildOrchestrationActivities } from './orchestration-activities';

/** The API process's workflow worker for eager workflow start (API_EAGER_START). */
export interface ApiWorker {
  /** The client inference workflows are started on: it shares the worker's NativeConnection. */
  client: Client;
  /** The worker's identity, as history records it on the workflow tasks it completed. */
  identity: string;
  supervisor: WorkerSupervisor;
  /** Rejects unless the worker runs (readiness: `workflow-worker` on /readyz). */
  ready(): Promise<void>;
  /** Runs the worker (restarted across Temporal outages) until {@link stop}. */
  start(): void;
  /** Drains: the workflow tasks in flight finish; then the connection closes. */
  stop(): Promise<void>;
}

/**
 * Composition root of the API's own Temporal worker. Eager workflow start hands a workflow's first
 * task to a worker in the process that started it, when that worker shares the starting client's
 * NativeConnection and has a free slot: so this builds the connection, the client on it and the
 * worker, for ORCHESTRATION_TASK_QUEUE. Workflows only, with the local activities the inference
 * workflow runs, wired by the factory the orchestration worker uses; `enableNonLocalActivities:
 * false`, so it never takes an activity task. Bounded (API_WORKER_MAX_TASKS, API_WORKER_MAX_CACHED)
 * so the API stays small and its event loop keeps answering accepts. Like any worker on the queue
 * it also polls: it may run any workflow task of the queue, which every workflow allows (the batch
 * and webhook workflows run no local activity).
 */
export async function buildApiWorker(
  cfg: Env,
  deps: {
    pool: Pool;
    redis: QuotaRedis;
    /** The API's other client (webhook delivery starts from the activities). */
    client: Client;
    metrics: Metrics;
    logger: Logger;
    dependencies?: DependencyReporter;
  },
): Promise<ApiWorker> {
  const { pool, redis, metrics } = deps;
  const logger = deps.logger.child({ worker: 'api-workflows' });
  const dataConverter = createDataConverter(cfg);
  const connection = await NativeConnection.connect({ address: temporalAddress(cfg) });
  const client = new Client({ connection, namespace: cfg.TEMPORAL_NAMESPACE, dataConverter });
  const atRest = createAtRestSealer(cfg, { registry: metrics.registry, logger });
  const quota = createQuotaStore(cfg, { redis, pool, metrics, logger });
  const activities = buildOrchestrationActivities(cfg, {
    pool,
    redis,
    quota,
    client: deps.client,
    metrics,
    logger,
    atRest,
  });
  const workflows = await workflowSource(cfg.WORKFLOW_BUNDLE_PATH);
  const identity = `api:${process.pid}@${hostname()}`;
  const supervisor = new WorkerSupervisor({
    logger,
    ...(deps.dependencies ? { dependencies: deps.dependencies } : {}),
    connect: () => Promise.resolve(connection),
    ownsConnection: false,
    createWorkers: async (conn) => [
      await Worker.create({
        connection: conn,
        namespace: cfg.TEMPORAL_NAMESPACE,
        taskQueue: cfg.ORCHESTRATION_TASK_QUEUE,
        identity,
        dataConverter,
        ...workflows,
        activities,
        enableNonLocalActivities: false,
        maxConcurrentWorkflowTaskExecutions: cfg.API_WORKER_MAX_TASKS,
        // Each poller holds a slot while it waits: two (sticky and normal) leave the most for eager
        // starts. (maxConcurrentWorkflowTaskPolls is ignored beside maxConcurrentWorkflowTaskExecutions.)
        workflowTaskPollerBehavior: { type: 'simple-maximum', maximum: 2 },
        maxConcurrentLocalActivityExecutions: cfg.API_WORKER_MAX_TASKS * 2,
        maxCachedWorkflows: cfg.API_WORKER_MAX_CACHED,
      }),
    ],
  });
  let running: Promise<void> | undefined;
  return {
    client,
    identity,
    supervisor,
    ready: () => supervisor.running(),
    start() {
      running = supervisor.run();
      logger.info(
        {
          taskQueue: cfg.ORCHESTRATION_TASK_QUEUE,
          identity,
          maxTasks: cfg.API_WORKER_MAX_TASKS,
          maxCached: cfg.API_WORKER_MAX_CACHED,
        },
        'eager workflow start on: API workflow worker started',
      );
    },
    async stop() {
      await supervisor.stop();
      await running;
      await connection.close().catch((err: unknown) => logger.warn({ err }, 'closing the worker connection'));
      logger.info('API workflow worker stopped');
    },
  };
}

import { createAtRestSealer } from '../codec/at-rest-sealer';
import type { Client } from '@temporalio/client';
import { headersOf } from '../models/create-adapters';
import type { ModelSpec } from '../models/model-spec';
import { TokenCounters } from '../models/token-counters';
import type { Express } from 'express';
import type { Pool } from 'pg';
import { REQUEST_RUN_TIMEOUT_MARGIN_S, type Env } from '../config/schema';
import { describePendingCall } from '../inference/pending-call';
import { QueueInsight } from '../inference/queue-insight';
import { SubmitService } from '../inference/submit-service';
import { IdempotentSubmit } from '../inference/idempotent-submit';
import { idempotencyMetrics } from '../idempotency/idempotency-metrics';
import { IdempotencyStore } from '../idempotency/idempotency-store';
import { webhookPolicy } from '../webhooks/create-webhooks';
import { RequestWebhooks } from '../webhooks/request-webhooks';
import { WebhooksRepo } from '../webhooks/webhooks-repo';
import { describeTaskQueue } from '../observability/task-queue-stats';
import { TemporalWorkflowGateway } from '../inference/workflow-gateway';
import { cancellingPendingStarts, DeferredStarts } from '../inference/deferred-starts';
import { InputSealer } from '../inference/sealed-input';
import { startMetrics } from '../inference/start-metrics';
import { PendingStartsRepo } from '../requests/pending-starts-repo';
import type { ModelRegistry } from '../models/model-registry';
import type { DependencyMonitor } from '../observability/dependency-monitor';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { QuotaHeadroom } from '../quota/quota-headroom';
import { AcceptedIds } from '../requests/accepted-ids';
import type { QuotaRedis } from '../quota/redis-client';
import { RequestsRepo } from '../requests/requests-repo';
import { createFollower, createTokenRelay } from '../streams/create-relay';
import { streamMetrics } from '../streams/stream-metrics';
import { ResponsesRepo } from '../openai/responses/responses-repo';
import { createQuotaStore } from '../quota/create-quota-store';
import { TenantsRepo } from '../tenants/tenants-repo';
import { AdminAuditRepo } from '../tenants/admin-audit-repo';
import { ApiKeysRepo } from '../tenants/api-keys-repo';
import { TenantAdminRepo } from '../tenants/tenant-admin-repo';
import { UsageRepo } from '../requests/usage-repo';
import { createApp } from './create-app';
import { createBatchDeps } from '../batches/create-batch-deps';
import { ApiKeyCache } from './key-cache';
import { keyCacheMetrics } from './key-cache-metrics';
import { invalidationChannel, keyInvalidator, subscribeKeyInvalidations } from './key-invalidation';
import { FailedAuthLimiter, LookupGate } from './auth-limiter';
import { authMetrics } from './auth-metrics';
import { KeyAuthenticator } from './auth';
import { LiveConnections } from './live-connections';
import { TenantShutdown } from '../tenants/tenant-shutdown';
import { BatchRepo } from '../batches/batch-repo';
import { TemporalBatchGateway } from '../batches/batch-gateway';
import { readinessChecks } from './routes/health-routes';

/** The API's app and what must stop with it (the deferred workflow starts). */
export interface Api {
  app: Express;
  /** Waits for the starts under way; call before closing the clients. */
  stop(): Promise<void>;
}

/** A model's auth header for its tokenize calls; none (logged) when its secret is not set here. */
function authHeaders(spec: ModelSpec, env: NodeJS.ProcessEnv, logger: Logger): Record<string, string> {
  try {
    return headersOf(spec, env);
  } catch (err) {
    logger.warn({ model: spec.name, error: (err as Error).message }, 'tokenize calls sent without auth');
    return {};
  }
}

/** Wires the API from its clients; the entry point and the integration tests share this. */
export function buildApi(
  cfg: Env,
  deps: {
    pool: Pool;
    redis: QuotaRedis;
    client: Client;
    registry: ModelRegistry;
    metrics: Metrics;
    logger: Logger;
    /** Told the outcome of every readiness check, and probes them in the background. @default none */
    dependencies?: DependencyMonitor;
    /**
     * Where the models' auth secrets are looked up by name (`auth_header.value_env`), for the calls
     * to a model server's tokenize endpoint (`tokenizer: server`). @default none: sent without
     */
    secretsEnv?: NodeJS.ProcessEnv;
    /**
     * Eager workflow start (API_EAGER_START): the client on the NativeConnection this process's
     * workflow worker shares (workers/build-api-worker.ts), which inference workflows are started on,
     * and that worker's readiness (on /readyz as `workflow-worker`). @default none: plain starts
     */
    eager?: { client: Client; ready(): Promise<void> };
  },
): Api {
  const { pool, redis, client, registry, metrics, logger } = deps;
  const atRest = createAtRestSealer(cfg, { registry: metrics.registry, logger });
  const quota = createQuotaStore(cfg, { redis, pool, metrics, logger });
  const temporal = new TemporalWorkflowGateway(client, cfg.ORCHESTRATION_TASK_QUEUE, {
    runTimeoutS: cfg.REQUEST_DEADLINE_S + REQUEST_RUN_TIMEOUT_MARGIN_S,
    ...(deps.eager
      ? { eager: { client: deps.eager.client, metrics: startMetrics(metrics.registry), logger } }
      : {}),
  });
  const starts = new DeferredStarts({
    workflows: temporal,
    pending: new PendingStartsRepo(pool),
    sealer: new InputSealer(client.options.loadedDataConverter),
    metrics: startMetrics(metrics.registry),
    logger,
    recoverAfterS: cfg.WORKFLOW_START_RECOVERY_S,
    maxDeferMs: cfg.WORKFLOW_START_MAX_DEFER_MS,
  });
  const workflows = cancellingPendingStarts(temporal, starts);
  // Revokes and disables reach every replica's key cache and open streams over pub/sub; the TTL is
  // the safety net.
  const keyCache = new ApiKeyCache({
    ttlS: cfg.API_KEY_CACHE_TTL_S,
    maxEntries: cfg.API_KEY_CACHE_MAX_KEYS,
    maxMisses: cfg.API_KEY_CACHE_MAX_MISSES,
  });
  const authM = authMetrics(metrics.registry);
  const live = new LiveConnections({ metrics: authM, logger });
  const keys = {
    redis,
    channel: invalidationChannel(cfg.REDIS_KEY_PREFIX),
    metrics: keyCacheMetrics(metrics.registry),
    logger,
  };
  const targets = { cache: keyCache, live, metrics: keys.metrics, logger };
  subscribeKeyInvalidations({ ...keys, ...targets });
  const auth = new KeyAuthenticator({
    lookup: new TenantsRepo(pool),
    cache: keyCache,
    limiter: new FailedAuthLimiter({
      burst: cfg.AUTH_FAILURE_BURST,
      ratePerS: cfg.AUTH_FAILURE_RATE_PER_S,
      maxSources: cfg.AUTH_FAILURE_MAX_SOURCES,
    }),
    gate: new LookupGate({ concurrency: cfg.AUTH_LOOKUP_CONCURRENCY, maxQueued: cfg.AUTH_LOOKUP_QUEUE }),
    metrics: authM,
  });
  const shutdown = new TenantShutdown({
    pool,
    workflows,
    batches: new BatchRepo(pool, atRest),
    batchGateway: new TemporalBatchGateway(client, cfg.ORCHESTRATION_TASK_QUEUE),
    registry: metrics.registry,
    logger,
  });
  shutdown.start(cfg.TENANT_DISABLE_SWEEP_S * 1000);
  const headroom = new QuotaHeadroom({ redis, keys: quota.keys, rebuild: (t) => quota.rebuildTenant(t) });
  const submit = new SubmitService({
    registry,
    counters: new TokenCounters(registry, {
      metrics: metrics.registry,
      logger,
      headersOf: (spec) => authHeaders(spec, deps.secretsEnv ?? {}, logger),
    }),
    quota,
    headroom,
    workflows,
    requests: new RequestsRepo(pool, atRest),
    metrics,
    logger,
    requestDeadlineS: cfg.REQUEST_DEADLINE_S,
    starts,
  });
  starts.run();
  const batches = createBatchDeps(cfg, { pool, client, submit, headroom, metrics, logger, atRest });
  batches.expiry?.start(cfg.BATCH_EXPIRY_SWEEP_S * 1000);
  const app = createApp({
    submit,
    idempotent: new IdempotentSubmit({
      store: new IdempotencyStore(pool, cfg.IDEMPOTENCY_TTL_S, atRest),
      submit,
      workflows,
      quota,
      metrics: idempotencyMetrics(metrics.registry),
      logger,
      pendingStaleS: cfg.IDEMPOTENCY_PENDING_STALE_S,
    }),
    webhooks: new RequestWebhooks(new WebhooksRepo(pool, atRest), webhookPolicy(cfg)),
    requests: new RequestsRepo(pool, atRest),
    responses: new ResponsesRepo(pool, atRest),
    tenants: new TenantsRepo(pool),
    follower: createFollower(createTokenRelay(cfg, redis, atRest), metrics.registry),
    streamMetrics: streamMetrics(metrics.registry),
    // A non-streaming OpenAI-style call waits as long as its request may run.
    waitMaxMs: (cfg.REQUEST_DEADLINE_S + 30) * 1000,
    queueInsight: new QueueInsight({
      pool,
      registry,
      stats: (q) => describeTaskQueue(client.connection, cfg.TEMPORAL_NAMESPACE, q, 'activity'),
      pendingCall: (id) => describePendingCall(client.workflow, id),
    }),
    quota,
    registry,
    workflows,
    accepted: new AcceptedIds({ quota, pool, registry: metrics.registry, logger }),
    metrics,
    logger,
    adminToken: cfg.ADMIN_TOKEN,
    auth,
    live,
    trustProxy: cfg.API_TRUST_PROXY,
    admin: {
      tenantAdmin: new TenantAdminRepo(pool),
      keys: new ApiKeysRepo(pool),
      audit: new AdminAuditRepo(pool),
      usage: new UsageRepo(pool),
      quota,
      invalidator: keyInvalidator({ ...keys, local: targets }),
      shutdown,
      logger,
    },
    maxBodyBytes: cfg.API_MAX_BODY_BYTES,
    batches,
    checks: deps.dependencies
      ? deps.dependencies.watch(readinessChecks({ workflows, pool, redis, worker: deps.eager }))
      : readinessChecks({ workflows, pool, redis, worker: deps.eager }),
  });
  return {
    app,
    stop: async () => {
      await shutdown.stop();
      await batches.expiry?.stop();
      await starts.stop();
    },
  };
}

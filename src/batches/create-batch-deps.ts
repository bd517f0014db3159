import { RequestsRepo } from '../requests/requests-repo';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { BatchRoutesDeps } from '../api/routes/batch-routes';
import { REQUEST_RUN_TIMEOUT_MARGIN_S, type Env } from '../config/schema';
import { QuotaHeadroom } from '../quota/quota-headroom';
import type { QuotaStore } from '../quota/quota-store';
import { SubmitService } from '../inference/submit-service';
import { TemporalWorkflowGateway } from '../inference/workflow-gateway';
import type { ModelRegistry } from '../models/model-registry';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { QuotaRedis } from '../quota/redis-client';
import { TemporalBatchGateway } from './batch-gateway';
import { batchMetrics } from './batch-metrics';
import { BatchRepo } from './batch-repo';
import { BatchService } from './batch-service';

/** The batch routes' dependencies, wired from the API's clients. */
export function createBatchDeps(
  cfg: Env,
  deps: {
    pool: Pool;
    client: Client;
    registry: ModelRegistry;
    quota: QuotaStore;
    metrics: Metrics;
    logger: Logger;
    redis: QuotaRedis;
  },
): BatchRoutesDeps {
  const batches = new BatchRepo(deps.pool);
  const gateway = new TemporalBatchGateway(deps.client, cfg.ORCHESTRATION_TASK_QUEUE);
  // Items are checked as a native submit checks them, minus the quota pre-check of large prompts:
  // a batch item's quota is decided when it starts, by its own workflow's admit step.
  const submit = new SubmitService({
    registry: deps.registry,
    quota: deps.quota,
    headroom: new QuotaHeadroom({
      redis: deps.redis,
      keys: deps.quota.keys,
      rebuild: (t) => deps.quota.rebuildTenant(t),
    }),
    headroomCheckMinChars: Number.POSITIVE_INFINITY,
    // Never used: the service only prepares (validates and tokenizes) batch items.
    workflows: new TemporalWorkflowGateway(deps.client, cfg.ORCHESTRATION_TASK_QUEUE),
    requests: new RequestsRepo(deps.pool),
    metrics: deps.metrics,
    logger: deps.logger,
    requestDeadlineS: cfg.REQUEST_DEADLINE_S,
  });
  return {
    batches,
    gateway,
    maxBodyBytes: cfg.BATCH_MAX_BODY_BYTES,
    service: new BatchService({
      submit,
      batches,
      gateway,
      metrics: batchMetrics(deps.metrics.registry),
      logger: deps.logger,
      concurrency: cfg.BATCH_CONCURRENCY,
      itemsPerRun: cfg.BATCH_ITEMS_PER_RUN,
      childRunTimeoutS: cfg.REQUEST_DEADLINE_S + REQUEST_RUN_TIMEOUT_MARGIN_S,
    }),
  };
}

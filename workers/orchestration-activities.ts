import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { createOrchestrationActivities, type OrchestrationActivities } from '../activities';
import type { AtRestSealer } from '../src/codec/at-rest-sealer';
import type { Env } from '../src/config/schema';
import type { Logger } from '../src/observability/logger';
import type { Metrics } from '../src/observability/metrics';
import type { QuotaStore } from '../src/quota/quota-store';
import type { QuotaRedis } from '../src/quota/redis-client';
import { RequestsRepo } from '../src/requests/requests-repo';
import { createTokenRelay } from '../src/streams/create-relay';
import { createWebhooks } from '../src/webhooks/create-webhooks';

/** What {@link buildOrchestrationActivities} wires the activities from: the process's shared clients. */
export interface OrchestrationActivityDeps {
  pool: Pool;
  redis: QuotaRedis;
  quota: QuotaStore;
  /** Starts the webhook delivery workflows of a request that ended. */
  client: Client;
  metrics: Metrics;
  logger: Logger;
  atRest: AtRestSealer;
  /** The process's webhooks (the orchestration worker shares them with its webhook activities). @default built here */
  webhooks?: ReturnType<typeof createWebhooks>;
}

/**
 * The inference workflow's local activities (admit, record, commit, fail), wired one way for every
 * process that runs the workflow: the orchestration worker and, with eager workflow start, the API's
 * worker (workers/build-api-worker.ts). A request's bookkeeping is the same whichever ran its task.
 */
export function buildOrchestrationActivities(
  cfg: Env,
  deps: OrchestrationActivityDeps,
): OrchestrationActivities {
  const { pool, redis, quota, client, metrics, logger, atRest } = deps;
  const webhooks =
    deps.webhooks ?? createWebhooks(cfg, { pool, client, registry: metrics.registry, logger, atRest });
  return createOrchestrationActivities({
    requests: new RequestsRepo(pool, atRest),
    quota,
    metrics,
    logger,
    relay: createTokenRelay(cfg, redis, atRest),
    webhooks: webhooks.notifier,
  });
}

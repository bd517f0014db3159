import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import type { AtRestSealer } from '../codec/at-rest-sealer';
import type { Env } from '../config/schema';
import type { Logger } from '../observability/logger';
import { AddressPolicy } from './address-policy';
import { webhookMetrics, type WebhookMetrics } from './webhook-metrics';
import { WebhookNotifier } from './webhook-notifier';
import { WebhooksRepo } from './webhooks-repo';

/** The address policy the operator configured (WEBHOOK_ALLOW_PRIVATE, WEBHOOK_ALLOWED_CIDRS). */
export function webhookPolicy(cfg: Env): AddressPolicy {
  return new AddressPolicy({
    allowPrivate: cfg.WEBHOOK_ALLOW_PRIVATE,
    allowedCidrs: cfg.WEBHOOK_ALLOWED_CIDRS,
  });
}

/**
 * The orchestration worker's webhook pieces: the notifier its activities call, and the repository
 * and metrics its delivery activities share with it (the worker's composition root registers them).
 */
export function createWebhooks(
  cfg: Env,
  deps: {
    pool: Pool;
    client: Client;
    registry: Registry;
    logger: Logger;
    /** The process's sealer of prompts and outputs at rest (createAtRestSealer). */
    atRest: AtRestSealer;
  },
): { notifier: WebhookNotifier; repo: WebhooksRepo; metrics: WebhookMetrics } {
  const repo = new WebhooksRepo(deps.pool, deps.atRest);
  const metrics = webhookMetrics(deps.registry);
  return {
    repo,
    metrics,
    notifier: new WebhookNotifier({
      repo,
      client: deps.client,
      taskQueue: cfg.ORCHESTRATION_TASK_QUEUE,
      metrics,
      logger: deps.logger,
      retry: {
        initialIntervalMs: cfg.WEBHOOK_RETRY_INITIAL_MS,
        maximumIntervalMs: cfg.WEBHOOK_RETRY_MAX_INTERVAL_MS,
        retryWindowS: cfg.WEBHOOK_RETRY_WINDOW_S,
        attemptTimeoutMs: cfg.WEBHOOK_TIMEOUT_MS,
      },
    }),
  };
}

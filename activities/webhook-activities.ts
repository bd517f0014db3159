import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from '../src/observability/logger';
import type { AddressPolicy } from '../src/webhooks/address-policy';
import { postWebhook } from '../src/webhooks/webhook-http';
import type { WebhookMetrics } from '../src/webhooks/webhook-metrics';
import { signWebhook } from '../src/webhooks/webhook-signature';
import type { WebhooksRepo } from '../src/webhooks/webhooks-repo';
import { WebhookFailure } from '../workflows/webhook-delivery-types';

/** Dependencies of the webhook activities; built by the orchestration worker. */
export interface WebhookDeps {
  repo: WebhooksRepo;
  policy: AddressPolicy;
  metrics: WebhookMetrics;
  logger: Logger;
  /** Milliseconds one POST may take (WEBHOOK_TIMEOUT_MS). */
  timeoutMs: number;
}

/** Activities of webhookDeliveryWorkflow: one signed POST per attempt, each attempt recorded. */
export function createWebhookActivities(deps: WebhookDeps) {
  const { repo, policy, metrics, logger } = deps;
  return {
    /** One attempt: throws (retryable) unless the receiver answered 2xx. */
    async deliverWebhook(deliveryId: string): Promise<void> {
      const d = await repo.deliveryToSend(deliveryId);
      if (!d)
        throw ApplicationFailure.nonRetryable(`delivery ${deliveryId} not found`, WebhookFailure.TargetGone);
      if (d.deliveredAt) return;
      if (!d.secret) {
        throw ApplicationFailure.nonRetryable(
          `the endpoint of ${deliveryId} was deleted`,
          WebhookFailure.TargetGone,
        );
      }
      const attempt = Context.current().info.attempt;
      const body = JSON.stringify(d.payload);
      // Standard Webhooks: the timestamp is the attempt's, the id the delivery's (stable, for dedupe).
      const timestamp = Math.floor(Date.now() / 1000);
      const headers = {
        'webhook-id': d.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(d.secret, d.id, timestamp, body),
        'user-agent': 'durable-inference-webhooks/1',
      };
      const started = performance.now();
      const out = await postWebhook(d.url, body, headers, { policy, timeoutMs: deps.timeoutMs });
      const durationMs = performance.now() - started;
      metrics.attemptSeconds.observe(durationMs / 1000);
      const ok = 'statusCode' in out && out.statusCode >= 200 && out.statusCode < 300;
      await repo.recordAttempt(deliveryId, attempt, {
        durationMs,
        ...('statusCode' in out ? { statusCode: out.statusCode } : { error: out.error }),
      });
      const outcome = ok
        ? 'success'
        : 'statusCode' in out
          ? 'http_error'
          : out.refused
            ? 'refused'
            : 'network_error';
      metrics.attempts.inc({ outcome });
      const fields = { deliveryId, url: d.url, attempt, ms: Math.round(durationMs) };
      if (ok) {
        await repo.markDelivered(deliveryId);
        metrics.deliveries.inc({ outcome: 'delivered' });
        logger.info(
          { ...fields, status: 'statusCode' in out ? out.statusCode : undefined },
          'webhook delivered',
        );
        return;
      }
      const why = 'statusCode' in out ? `HTTP ${out.statusCode}` : out.error;
      logger.warn({ ...fields, why }, 'webhook attempt failed');
      if (!('statusCode' in out) && out.refused) {
        throw ApplicationFailure.nonRetryable(`webhook URL refused: ${why}`, WebhookFailure.UrlRefused);
      }
      throw ApplicationFailure.retryable(
        `webhook attempt ${attempt} failed: ${why}`,
        'webhook_attempt_failed',
      );
    },

    /** Marks a delivery given up after its retry window (or a refused/gone target). */
    async giveUpWebhook(deliveryId: string): Promise<void> {
      await repo.markGivenUp(deliveryId);
      metrics.deliveries.inc({ outcome: 'given_up' });
      logger.error({ deliveryId }, 'webhook delivery given up');
    },
  };
}

export type WebhookActivities = ReturnType<typeof createWebhookActivities>;

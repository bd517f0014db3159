import { proxyActivities } from '@temporalio/workflow';
import type { WebhookActivities } from '../activities';
import { WebhookFailure, type WebhookDeliveryInput } from './webhook-delivery-types';

/**
 * Delivers one webhook, at least once: the POST activity retries with exponential backoff for
 * `retryWindowS` (Temporal keeps the schedule, so it survives worker restarts), then the delivery
 * is marked given up. Started by the orchestration activities with a fixed id, so once per event.
 */
export async function webhookDeliveryWorkflow(
  input: WebhookDeliveryInput,
): Promise<'delivered' | 'given_up'> {
  const { deliverWebhook } = proxyActivities<WebhookActivities>({
    startToCloseTimeout: input.attemptTimeoutMs + 5000,
    scheduleToCloseTimeout: input.retryWindowS * 1000,
    retry: {
      initialInterval: input.initialIntervalMs,
      backoffCoefficient: 2,
      maximumInterval: input.maximumIntervalMs,
      nonRetryableErrorTypes: Object.values(WebhookFailure),
    },
  });
  const { giveUpWebhook } = proxyActivities<WebhookActivities>({
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
  });
  try {
    await deliverWebhook(input.deliveryId);
    return 'delivered';
  } catch {
    await giveUpWebhook(input.deliveryId);
    return 'given_up';
  }
}

import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Logger } from '../observability/logger';
import type { InferenceInput, Usage } from '../shared/types';
import { webhookDeliveryWorkflow, type WebhookDeliveryInput } from '../contract/temporal-contract';
import { eventType, type WebhookEvent } from './webhook-events';
import type { WebhookMetrics } from './webhook-metrics';
import type { WebhookTarget, WebhooksRepo } from './webhooks-repo';

/** Options of {@link WebhookNotifier}. */
export interface WebhookNotifierOptions {
  repo: WebhooksRepo;
  client: Client;
  /** Task queue of the delivery workflows (the orchestration queue). */
  taskQueue: string;
  metrics: WebhookMetrics;
  logger: Logger;
  /** Retry policy of each delivery. */
  retry: Omit<WebhookDeliveryInput, 'deliveryId'>;
}

/** What a terminal request's event says. */
export interface RequestEnd {
  status: WebhookEvent;
  usage?: Usage;
  error?: { type: string; message: string };
}

/**
 * Starts one delivery workflow per target of a request's terminal event. Idempotent: the delivery
 * row and the workflow id are fixed by (request, event, target), so a retried activity starts
 * nothing twice and a receiver sees one `webhook-id` per event however often it is retried.
 */
export class WebhookNotifier {
  constructor(private readonly opts: WebhookNotifierOptions) {}

  /**
   * `targets`: the event's targets when the caller read them already (with the request's terminal
   * update: `RequestsRepo.markCompleted`, `finish`); otherwise they are read here.
   */
  async requestEnded(
    input: InferenceInput,
    end: RequestEnd,
    targets?: readonly WebhookTarget[],
  ): Promise<void> {
    const { repo, client, logger, metrics } = this.opts;
    targets ??= await repo.targetsFor(input.requestId, input.tenantId, end.status);
    for (const t of targets) {
      const id = `whk-${input.requestId}-${end.status}-${t.endpointId}`;
      await repo.createDelivery({
        id,
        requestId: input.requestId,
        tenantId: input.tenantId,
        endpointId: t.endpointId,
        url: t.url,
        event: end.status,
        payload: {
          type: eventType(end.status),
          timestamp: new Date().toISOString(),
          data: {
            id: input.requestId,
            object: 'inference',
            status: end.status,
            model: input.model,
            ...(end.usage ? { usage: end.usage } : {}),
            ...(end.error ? { error: end.error } : {}),
          },
        },
      });
      try {
        await client.workflow.start(webhookDeliveryWorkflow, {
          taskQueue: this.opts.taskQueue,
          workflowId: id,
          args: [{ deliveryId: id, ...this.opts.retry }],
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        });
        metrics.started.inc({ event: end.status });
        logger.info({ requestId: input.requestId, deliveryId: id, url: t.url }, 'webhook delivery started');
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
    }
  }
}

import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Logger } from '../observability/logger';
import type { InferenceInput, Usage } from '../shared/types';
import { webhookDeliveryWorkflow, type WebhookDeliveryInput } from '../contract/temporal-contract';
import { eventType, type WebhookEvent } from './webhook-events';
import { batchEventOf, openAiEventPayload } from './openai-events';
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
    const { repo } = this.opts;
    targets ??= await repo.targetsFor(input.requestId, input.tenantId, end.status);
    for (const t of targets) {
      const event = t.openAiEvent ?? end.status;
      const id = `whk-${input.requestId}-${event}-${t.endpointId}`;
      const payload = t.openAiEvent
        ? openAiEventPayload(id, t.openAiEvent, input.requestId, new Date())
        : {
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
          };
      await this.deliver({
        id,
        objectId: input.requestId,
        tenantId: input.tenantId,
        target: t,
        event,
        payload,
      });
    }
  }

  /**
   * Starts the OpenAI-shaped `batch.<status>` deliveries of a batch that reached a terminal
   * `status` (none for a status OpenAI does not name). Called wherever a batch ends, each time
   * (idempotent like {@link requestEnded}: one delivery per batch, event and endpoint).
   */
  async batchEnded(batchId: string, status: string): Promise<void> {
    const type = batchEventOf(status);
    if (!type) return;
    const { tenantId, targets } = await this.opts.repo.batchTargets(batchId, type);
    for (const t of targets) {
      const id = `whk-${batchId}-${type}-${t.endpointId}`;
      const payload = openAiEventPayload(id, type, batchId, new Date());
      await this.deliver({ id, objectId: batchId, tenantId, target: t, event: type, payload });
    }
  }

  /** Records one delivery (once) and starts its workflow (once). */
  private async deliver(d: {
    id: string;
    objectId: string;
    tenantId: string;
    target: WebhookTarget;
    event: string;
    payload: unknown;
  }): Promise<void> {
    const { repo, client, logger, metrics } = this.opts;
    await repo.createDelivery({
      id: d.id,
      requestId: d.objectId,
      tenantId: d.tenantId,
      endpointId: d.target.endpointId,
      url: d.target.url,
      event: d.event,
      payload: d.payload,
    });
    try {
      await client.workflow.start(webhookDeliveryWorkflow, {
        taskQueue: this.opts.taskQueue,
        workflowId: d.id,
        args: [{ deliveryId: d.id, ...this.opts.retry }],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      metrics.started.inc({ event: d.event });
      logger.info(
        { id: d.objectId, event: d.event, deliveryId: d.id, url: d.target.url },
        'webhook delivery started',
      );
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
}

import { createHash } from 'node:crypto';
import { z } from 'zod';
import { WEBHOOK_EVENTS } from './webhook-events';

/**
 * Webhook events in OpenAI's shape (`client.webhooks.unwrap` reads them), delivered to a tenant's
 * webhook endpoints that subscribe to them by name, beside the native `inference.*` events.
 */
export const RESPONSE_WEBHOOK_EVENTS = [
  'response.completed',
  'response.failed',
  'response.cancelled',
  'response.incomplete',
] as const;
/** `batch.<status>` for each terminal batch status OpenAI names. */
export const BATCH_WEBHOOK_EVENTS = [
  'batch.completed',
  'batch.failed',
  'batch.cancelled',
  'batch.expired',
] as const;
export const OPENAI_WEBHOOK_EVENTS = [...RESPONSE_WEBHOOK_EVENTS, ...BATCH_WEBHOOK_EVENTS] as const;
export type OpenAiWebhookEvent = (typeof OPENAI_WEBHOOK_EVENTS)[number];

/** What a webhook endpoint may subscribe to: the native events and OpenAI's. */
export const ENDPOINT_EVENTS = [...WEBHOOK_EVENTS, ...OPENAI_WEBHOOK_EVENTS] as const;
export type EndpointEvent = (typeof ENDPOINT_EVENTS)[number];
export const endpointEventsSchema = z.array(z.enum(ENDPOINT_EVENTS)).min(1).max(ENDPOINT_EVENTS.length);

/** The event of a batch that reached `status`, if OpenAI names one (`batch.<status>`). */
export function batchEventOf(status: string): OpenAiWebhookEvent | undefined {
  const type = `batch.${status}`;
  return (BATCH_WEBHOOK_EVENTS as readonly string[]).includes(type)
    ? (type as OpenAiWebhookEvent)
    : undefined;
}

/**
 * An OpenAI-shaped event: `{id, object: "event", created_at, type, data: {id}}`. The event id is
 * derived from the delivery id, so a retried notifier makes the same event.
 */
export function openAiEventPayload(
  deliveryId: string,
  type: string,
  objectId: string,
  at: Date,
): Record<string, unknown> {
  const id = `evt_${createHash('sha256').update(deliveryId).digest('hex').slice(0, 32)}`;
  return { id, object: 'event', created_at: Math.floor(at.getTime() / 1000), type, data: { id: objectId } };
}

import { z } from 'zod';

/** Events a webhook can subscribe to: a request reaching one of these terminal statuses. */
export const WEBHOOK_EVENTS = ['completed', 'failed', 'cancelled', 'rejected'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const webhookEventsSchema = z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length);

/** `webhook-*` event type in the payload, e.g. `inference.completed`. */
export const eventType = (event: WebhookEvent): string => `inference.${event}`;

import { Counter, Histogram, type Registry } from 'prom-client';
import { perRegistry } from '../observability/per-registry';

/** Metrics of webhook deliveries. */
export interface WebhookMetrics {
  /** Delivery attempts by outcome: success (2xx), http_error, network_error, refused (address policy). */
  attempts: Counter<'outcome'>;
  /** Deliveries by final outcome: delivered, given_up. */
  deliveries: Counter<'outcome'>;
  /** Deliveries started, by event. */
  started: Counter<'event'>;
  /** Duration of one attempt, seconds. */
  attemptSeconds: Histogram<string>;
}

/** The webhook metrics on `registry`, created on first use (one set per registry). */
export const webhookMetrics: (registry: Registry) => WebhookMetrics = perRegistry((r) => ({
  attempts: new Counter({
    name: 'webhook_delivery_attempts_total',
    help: 'Webhook delivery attempts by outcome: success, http_error, network_error, refused',
    labelNames: ['outcome'],
    ...r,
  }),
  deliveries: new Counter({
    name: 'webhook_deliveries_total',
    help: 'Webhook deliveries by final outcome: delivered, given_up (retry window over or target refused/gone)',
    labelNames: ['outcome'],
    ...r,
  }),
  started: new Counter({
    name: 'webhook_deliveries_started_total',
    help: 'Webhook delivery workflows started, by event',
    labelNames: ['event'],
    ...r,
  }),
  attemptSeconds: new Histogram({
    name: 'webhook_delivery_attempt_seconds',
    help: 'Duration of one webhook delivery attempt',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ...r,
  }),
}));

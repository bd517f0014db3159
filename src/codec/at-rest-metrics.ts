import { Counter, Gauge, type Registry } from 'prom-client';
import { perRegistry } from '../observability/per-registry';

/** Metrics of prompts and outputs at rest outside Temporal history. */
export interface AtRestMetrics {
  /** 1 when the store's new values are encrypted, 0 when they are written in clear, by store. */
  encrypted: Gauge<'store'>;
  /** Values read back in clear (written before encryption was on, or with it off), by store. */
  clearReads: Counter<'store'>;
}

/** The at-rest metrics on `registry`, created on first use (one set per registry). */
export const atRestMetrics: (registry: Registry) => AtRestMetrics = perRegistry((r) => ({
  encrypted: new Gauge({
    name: 'inference_at_rest_encryption',
    help: 'Whether new prompts/outputs in the store are encrypted with the payload keys (1) or written in clear (0): idempotency_keys, batch_items, requests, webhook_deliveries, token_streams',
    labelNames: ['store'],
    ...r,
  }),
  clearReads: new Counter({
    name: 'inference_at_rest_clear_reads_total',
    help: 'Prompts/outputs read back in clear from a store (written before encryption was turned on, or with it off); stays flat once such rows have expired',
    labelNames: ['store'],
    ...r,
  }),
}));

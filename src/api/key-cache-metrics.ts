import { perRegistry } from '../observability/per-registry';
import { Counter, type Registry } from 'prom-client';

/** Metrics of the API key cache's invalidation (src/tenants/key-invalidation.ts). */
export interface KeyCacheMetrics {
  /** Invalidation messages received, by scope: `key`, `tenant`, or `all` (channel resubscribed). */
  invalidations: Counter<'scope'>;
  /** Cached entries those messages dropped. */
  entriesDropped: Counter;
  /** Invalidations that could not be published (the TTL still ends the entries). */
  publishFailures: Counter;
}

/** The key cache metrics on `registry`, created on first use (one set per registry). */
export const keyCacheMetrics: (registry: Registry) => KeyCacheMetrics = perRegistry((r) => ({
  invalidations: new Counter({
    name: 'inference_api_key_cache_invalidations_total',
    help: 'API key cache invalidations received over Redis pub/sub, by scope (key, tenant, all = resubscribed)',
    labelNames: ['scope'],
    ...r,
  }),
  entriesDropped: new Counter({
    name: 'inference_api_key_cache_entries_dropped_total',
    help: 'Cached API key lookups dropped by invalidations',
    ...r,
  }),
  publishFailures: new Counter({
    name: 'inference_api_key_invalidation_publish_failures_total',
    help: 'Key/tenant invalidations that could not be published; replicas drop them at API_KEY_CACHE_TTL_S',
    ...r,
  }),
}));

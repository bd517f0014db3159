import { Counter, Gauge, type Registry } from 'prom-client';
import { perRegistry } from '../observability/per-registry';

/** Metrics of tenant authentication and of what a revocation or a disable ended. */
export interface AuthMetrics {
  /**
   * Refused authentications, by reason: `missing`, `invalid` (no such active key), `disabled`
   * (tenant disabled), `rate_limited` (the source's failures are over its limit), `busy` (too many
   * look-ups waiting).
   */
  failures: Counter<'reason'>;
  /** Requests answered 429 because their source failed too often (no PostgreSQL query made). */
  rateLimited: Counter;
  /** Key look-ups that reached PostgreSQL, by outcome: `found`, `missing`. */
  lookups: Counter<'outcome'>;
  /** Cached answers, by kind: `valid` keys and `miss`es (kept apart); `sources` tracked by the limiter. */
  cacheEntries: Gauge<'kind'>;
  /** Open streams and waits ended because their key was revoked or their tenant disabled, by kind. */
  connectionsClosed: Counter<'kind' | 'reason'>;
}

/** The auth metrics on `registry`, created on first use (one set per registry). */
export const authMetrics: (registry: Registry) => AuthMetrics = perRegistry((r) => ({
  failures: new Counter({
    name: 'inference_auth_failures_total',
    help: 'Refused tenant authentications, by reason (missing, invalid, disabled, rate_limited, busy)',
    labelNames: ['reason'],
    ...r,
  }),
  rateLimited: new Counter({
    name: 'inference_auth_rate_limited_total',
    help: 'Requests answered 429 because their source failed authentication too often (no PostgreSQL query)',
    ...r,
  }),
  lookups: new Counter({
    name: 'inference_auth_key_lookups_total',
    help: 'API key look-ups that reached PostgreSQL, by outcome (found, missing)',
    labelNames: ['outcome'],
    ...r,
  }),
  cacheEntries: new Gauge({
    name: 'inference_auth_cache_entries',
    help: 'API key cache entries by kind: valid, miss (a separate bounded cache), sources (failure limiter)',
    labelNames: ['kind'],
    ...r,
  }),
  connectionsClosed: new Counter({
    name: 'inference_streams_closed_by_revocation_total',
    help: 'Open streams and waits ended because their key was revoked or their tenant disabled',
    labelNames: ['kind', 'reason'],
    ...r,
  }),
}));

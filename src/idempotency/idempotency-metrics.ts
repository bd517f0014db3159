import { Counter, type Registry } from 'prom-client';
import { perRegistry } from '../observability/per-registry';

/** What a submit carrying an Idempotency-Key turned into. */
export type IdempotencyOutcome =
  /** First use of the key: a new request. */
  | 'created'
  /** Same key, same body, first submit done: the same request and response. */
  | 'replayed'
  /** Same key, first submit died before it finished: this retry finished it. */
  | 'redriven'
  /** Same key while the first submit is still being accepted: 409. */
  | 'in_flight'
  /** Same key, different body: 422. */
  | 'mismatch';

/** Metrics of Idempotency-Key handling. */
export interface IdempotencyMetrics {
  /** Submits with an Idempotency-Key, by endpoint and outcome. */
  submits: Counter<'endpoint' | 'outcome'>;
  /** Expired keys deleted by the cleanup. */
  expired: Counter<string>;
}

/** The idempotency metrics on `registry`, created on first use (one set per registry). */
export const idempotencyMetrics: (registry: Registry) => IdempotencyMetrics = perRegistry((r) => ({
  submits: new Counter({
    name: 'inference_idempotent_submits_total',
    help: 'Submits with an Idempotency-Key by outcome: created, replayed, redriven (a dead first submit finished by its retry), in_flight (409), mismatch (422)',
    labelNames: ['endpoint', 'outcome'],
    ...r,
  }),
  expired: new Counter({
    name: 'inference_idempotency_keys_expired_total',
    help: 'Idempotency keys deleted after IDEMPOTENCY_TTL_S',
    ...r,
  }),
}));

import { Counter, type Registry } from 'prom-client';
import { perRegistry } from '../observability/per-registry';

/** Metrics of reservation in slices (labels are model and limit names only: no tenant, no request). */
export interface SliceMetrics {
  /**
   * Extension calls by model and outcome: `granted` (the slice is reserved), `partial` (what the
   * token limits left), `refused` (nothing left: generation stops), `closed` (the reservation was no
   * longer open), `error` (Redis or PostgreSQL failed), `topup` (after the call, to cover a bill
   * above the slices, e.g. a model whose stream chunks carry several tokens).
   */
  extensions: Counter<'model' | 'outcome'>;
  /** Generations stopped at their reservation because a token limit refused more, by model and limit. */
  refusals: Counter<'model' | 'limit'>;
  /** Tokens billed above what the request could reserve (a top-up refused), by model: should stay 0. */
  overrunTokens: Counter<'model'>;
}

export const sliceMetrics: (registry: Registry) => SliceMetrics = perRegistry((r) => ({
  extensions: new Counter({
    name: 'inference_quota_slice_extensions_total',
    help: 'Reservation slice extensions by model and outcome (granted, partial, refused, closed, error, topup)',
    labelNames: ['model', 'outcome'],
    ...r,
  }),
  refusals: new Counter({
    name: 'inference_quota_slice_refusals_total',
    help: 'Generations stopped at their reservation (finish_reason length, stop_reason quota_exhausted) by model and the limit that refused',
    labelNames: ['model', 'limit'],
    ...r,
  }),
  overrunTokens: new Counter({
    name: 'inference_quota_slice_overrun_tokens_total',
    help: 'Tokens the model billed beyond what the request could reserve (a refused top-up); 0 unless a model streams several tokens per chunk',
    labelNames: ['model'],
    ...r,
  }),
}));

import { Counter, type Registry } from 'prom-client';
import { perRegistry } from '../observability/per-registry';

/** Metrics of retried model calls that continue the answer an earlier attempt cut short. */
export interface ContinuationMetrics {
  /**
   * Retried attempts that found output of an earlier attempt, per model and outcome: `continued`
   * (the server continues the answer), `restarted` with `reason` `unsupported` (the model's adapter
   * cannot continue: `chat_continuation: none`), `uncounted` (the partial output's tokens could not
   * be counted) or `refused` (the server refused the continuation request).
   */
  attempts: Counter<'model' | 'outcome' | 'reason'>;
  /** Completion tokens an earlier attempt produced that a continuation did not generate again. */
  savedTokens: Counter<'model'>;
  /**
   * Prompt tokens of continuation calls (the original prompt plus the partial output, prefilled
   * again by the server). Not billed: the tenant pays the original prompt once.
   */
  prefillTokens: Counter<'model'>;
}

export const continuationMetrics: (registry: Registry) => ContinuationMetrics = perRegistry((r) => ({
  attempts: new Counter({
    name: 'inference_continuations_total',
    help: "Retried model calls that found an earlier attempt's output, by model, outcome (continued, restarted) and reason of a restart (unsupported, uncounted, refused)",
    labelNames: ['model', 'outcome', 'reason'],
    ...r,
  }),
  savedTokens: new Counter({
    name: 'inference_continuation_saved_tokens_total',
    help: 'Completion tokens of an earlier attempt that a continued call did not generate again, by model',
    labelNames: ['model'],
    ...r,
  }),
  prefillTokens: new Counter({
    name: 'inference_continuation_prefill_tokens_total',
    help: 'Prompt tokens prefilled again by continued calls (original prompt + partial output; not billed), by model',
    labelNames: ['model'],
    ...r,
  }),
}));

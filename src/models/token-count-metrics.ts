import { Counter, Histogram, type Registry } from 'prom-client';
import { perRegistry } from '../observability/per-registry';

/** Metrics of how tokens are counted per model, and how far the estimates were from the model's count. */
export interface TokenCountMetrics {
  /**
   * Counts by model, what was counted (`prompt` at submit, `completion` of text the model service
   * reported no usage for) and source: `model` (its server's tokenizer), `local` (a BPE family in
   * process), `fallback` (the server did not answer: a byte upper bound for a prompt, the local
   * estimate for a completion).
   */
  counts: Counter<'model' | 'what' | 'source'>;
  /**
   * The model service's reported prompt tokens divided by the prompt tokens reserved at submit, per
   * model. 1 is exact; above 1 the reservation was below what the model counted.
   */
  promptActualOverEstimate: Histogram<'model'>;
}

export const tokenCountMetrics: (registry: Registry) => TokenCountMetrics = perRegistry((r) => ({
  counts: new Counter({
    name: 'inference_token_counts_total',
    help: 'Token counts by model, what (prompt, completion) and source (model: its server; local: a BPE family in process; fallback: the server did not answer)',
    labelNames: ['model', 'what', 'source'],
    ...r,
  }),
  promptActualOverEstimate: new Histogram({
    name: 'inference_prompt_tokens_actual_over_estimate',
    help: 'Prompt tokens the model service reported divided by the prompt tokens counted at submit (1 = exact; above 1 the reservation was short)',
    labelNames: ['model'],
    buckets: [0.25, 0.5, 0.67, 0.8, 0.9, 0.95, 0.99, 1, 1.01, 1.05, 1.1, 1.25, 1.5, 2, 4],
    ...r,
  }),
}));

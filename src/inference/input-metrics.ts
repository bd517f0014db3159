import { perRegistry } from '../observability/per-registry';
import { Counter, Histogram, type Registry } from 'prom-client';

/** Metrics of the submit path's input checks (prompt size, tokenization). */
export interface InputMetrics {
  /** Wall time of counting one prompt's tokens (yields included), by model. */
  tokenizeSeconds: Histogram<'model'>;
  /** Prompt characters handed to the tokenizer, by model. */
  tokenizedChars: Counter<'model'>;
  /** Requests refused by an input bound before any quota was touched, by model and reason. */
  inputRejected: Counter<'model' | 'reason'>;
  /**
   * Accepted requests by who wrote the request row: `api` (before the start; the workflow skips its
   * admit step) or `workflow` (PostgreSQL was unavailable at accept; the workflow admits it).
   */
  rowWrittenBy: Counter<'by'>;
  /**
   * Read-only quota checks made at submit before costly work, by `before` (`tokenize`: a large
   * prompt; `side_effects`: a webhook look-up or an Idempotency-Key row) and outcome (`ok`, `refused`).
   */
  quotaPrechecks: Counter<'before' | 'outcome'>;
}

/** Why {@link InputMetrics.inputRejected} refused a request. */
export type InputRejection = 'prompt_too_long' | 'max_tokens_over_context' | 'context_length';

/** The input metrics on `registry`, created on first use (one set per registry). */
export const inputMetrics: (registry: Registry) => InputMetrics = perRegistry((r) => ({
  tokenizeSeconds: new Histogram({
    name: 'inference_prompt_tokenize_seconds',
    help: 'Wall time of counting one prompt at submit, yields to the event loop included',
    labelNames: ['model'],
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    ...r,
  }),
  tokenizedChars: new Counter({
    name: 'inference_prompt_tokenized_chars_total',
    help: 'Prompt characters counted at submit',
    labelNames: ['model'],
    ...r,
  }),
  inputRejected: new Counter({
    name: 'inference_input_rejected_total',
    help: 'Requests refused for their size before quota: prompt_too_long (over max_prompt_chars, not tokenized), max_tokens_over_context, context_length',
    labelNames: ['model', 'reason'],
    ...r,
  }),
  rowWrittenBy: new Counter({
    name: 'inference_accept_row_written_total',
    help: 'Accepted requests by who wrote the request row: api (at accept) or workflow (PostgreSQL was unavailable at accept)',
    labelNames: ['by'],
    ...r,
  }),
  quotaPrechecks: new Counter({
    name: 'inference_quota_prechecks_total',
    help: 'Read-only quota checks at submit before costly work (before=tokenize: a large prompt; before=side_effects: a webhook DNS look-up or an Idempotency-Key row), by outcome (ok, refused)',
    labelNames: ['before', 'outcome'],
    ...r,
  }),
}));

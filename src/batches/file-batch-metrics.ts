import { Counter, type Registry } from 'prom-client';
import { perRegistry } from '../observability/per-registry';

/** Metrics of batches made from files (POST /v1/batches with input_file_id) and of their expiry. */
export interface FileBatchMetrics {
  /** Lines of the input files of stored batches: `valid` (items) or `invalid` (in the error file). */
  lines: Counter<'outcome'>;
  /** Batches the expiry sweep stopped at the end of their completion window. */
  expiries: Counter;
}

/** The file-batch metrics on `registry`, created on first use. */
export const fileBatchMetrics: (registry: Registry) => FileBatchMetrics = perRegistry((r) => ({
  lines: new Counter({
    name: 'inference_batch_file_lines_total',
    help: 'Lines of the input files of stored batches by outcome: valid (run as items) or invalid (reported in the error file)',
    labelNames: ['outcome'],
    ...r,
  }),
  expiries: new Counter({
    name: 'inference_batch_expiries_total',
    help: 'Batches the expiry sweep stopped at the end of their completion window (they end expired)',
    ...r,
  }),
}));

import { Counter, type Registry } from 'prom-client';
import { perRegistry } from '../observability/per-registry';

/** Metrics of batches (POST /v1/batches and the batch workflow). */
export interface BatchMetrics {
  /**
   * POST /v1/batches by outcome: `accepted`, `invalid` (400), `too_large` (413), `quota` (the
   * tenant's token quota), `capped` (per-tenant batch caps), `busy` (upload gate: 429/503), `error`.
   */
  batchesCreated: Counter<'outcome'>;
  /** Items of accepted batches. */
  itemsSubmitted: Counter;
  /** Batches that ended, by status (`completed`, `cancelled`). */
  batchesFinished: Counter<'status'>;
  /** Items of ended batches by outcome: completed, failed, rejected (quota), cancelled, … */
  itemsFinished: Counter<'outcome'>;
}

/** The batch metrics on `registry`, created on first use (one set per registry). */
export const batchMetrics: (registry: Registry) => BatchMetrics = perRegistry((r) => ({
  batchesCreated: new Counter({
    name: 'inference_batches_created_total',
    help: 'POST /v1/batches by outcome: accepted, invalid (400), too_large (413), too_slow (408: body not read within BATCH_UPLOAD_TIMEOUT_S or paused past BATCH_UPLOAD_IDLE_TIMEOUT_S), quota (token quota), capped (batches/items/enqueued tokens in flight), busy (too many uploads at once), error; nothing is stored unless accepted',
    labelNames: ['outcome'],
    ...r,
  }),
  itemsSubmitted: new Counter({
    name: 'inference_batch_items_submitted_total',
    help: 'Items of accepted batches',
    ...r,
  }),
  batchesFinished: new Counter({
    name: 'inference_batches_finished_total',
    help: 'Batches that ended, by status (completed, cancelled)',
    labelNames: ['status'],
    ...r,
  }),
  itemsFinished: new Counter({
    name: 'inference_batch_items_finished_total',
    help: 'Items of ended batches by outcome (completed, failed, rejected, cancelled)',
    labelNames: ['outcome'],
    ...r,
  }),
}));

import { Counter, type Registry } from 'prom-client';
import { perRegistry } from '../observability/per-registry';

/** Metrics of /v1/files. */
export interface FileMetrics {
  /**
   * POST /v1/files by outcome: `stored`, `invalid` (400), `too_large` (413), `too_slow` (408),
   * `busy` (upload gate: 429/503), `error`.
   */
  uploads: Counter<'outcome'>;
  /** Bytes of stored uploads. */
  uploadedBytes: Counter;
  /** Bytes served by GET /v1/files/:id/content, by purpose (`batch`, `batch_output`). */
  downloadedBytes: Counter<'purpose'>;
  /** Files deleted by DELETE /v1/files/:id. */
  deletes: Counter;
}

/** The file metrics on `registry`, created on first use. */
export const fileMetrics: (registry: Registry) => FileMetrics = perRegistry((r) => ({
  uploads: new Counter({
    name: 'inference_file_uploads_total',
    help: 'POST /v1/files by outcome: stored, invalid (400), too_large (413: over FILE_MAX_BYTES), too_slow (408), busy (too many uploads at once), error; nothing is stored unless stored',
    labelNames: ['outcome'],
    ...r,
  }),
  uploadedBytes: new Counter({
    name: 'inference_file_uploaded_bytes_total',
    help: 'Bytes of files stored by POST /v1/files',
    ...r,
  }),
  downloadedBytes: new Counter({
    name: 'inference_file_downloaded_bytes_total',
    help: 'Bytes served by GET /v1/files/{id}/content, by purpose (batch: uploads, batch_output: batch output and error files)',
    labelNames: ['purpose'],
    ...r,
  }),
  deletes: new Counter({
    name: 'inference_file_deletes_total',
    help: 'Files deleted by DELETE /v1/files/{id}',
    ...r,
  }),
}));

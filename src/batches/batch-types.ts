import { REQUEST_STATUSES } from '../shared/types';

/** Statuses of a batch (OpenAI's: `finalizing`, `failed` and `expired` only for batches made from a file). */
export const BATCH_STATUSES = [
  'validating',
  'in_progress',
  'finalizing',
  'completed',
  'failed',
  'expired',
  'cancelling',
  'cancelled',
] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];
/** Statuses a batch never leaves; it reaches them only through `endBatch` (batch-terminal.ts). */
export const TERMINAL_BATCH_STATUSES = ['completed', 'failed', 'expired', 'cancelled'] as const;
export type TerminalBatchStatus = (typeof TERMINAL_BATCH_STATUSES)[number];
export const isTerminalBatch = (s: BatchStatus): s is TerminalBatchStatus =>
  (TERMINAL_BATCH_STATUSES as readonly string[]).includes(s);
/** Statuses of a batch not yet ended: what the per-tenant caps count and a tenant disable cancels. */
export const OPEN_BATCH_STATUSES: readonly BatchStatus[] = ['validating', 'in_progress', 'cancelling'];
/** SQL list of {@link OPEN_BATCH_STATUSES}: `status IN ${OPEN_BATCH}`. */
export const OPEN_BATCH = `(${OPEN_BATCH_STATUSES.map((t) => `'${t}'`).join(', ')})`;

/** States an item can be in: its request's status, or `pending` (not started) / `cancelled` (never started). */
export const BATCH_ITEM_STATES = ['pending', ...REQUEST_STATUSES] as const;
export type BatchItemState = (typeof BATCH_ITEM_STATES)[number];

/** Most items one batch may hold. */
export const MAX_BATCH_ITEMS = 10_000;

/** Prefix of batch ids, which are also the batch workflow ids. */
export const BATCH_ID_PREFIX = 'batch_';

/** Endpoint of the inline batches (POST /v1/batches with the items in the body). */
export const INLINE_ENDPOINT = '/v1/inference';

/** A batch as stored, with its items counted by state. */
export interface BatchRecord {
  id: string;
  tenantId: string;
  status: BatchStatus;
  /** Valid items (the lines refused at create are `invalidLines`). */
  total: number;
  concurrency: number;
  createdAt: Date;
  startedAt: Date | null;
  cancelRequestedAt: Date | null;
  /** When it reached its terminal status (completed, failed, expired or cancelled). */
  completedAt: Date | null;
  /** `/v1/inference` (inline items) or one of BATCH_FILE_ENDPOINTS (made from a file). */
  endpoint: string;
  inputFileId: string | null;
  outputFileId: string | null;
  errorFileId: string | null;
  metadata: Record<string, string> | null;
  completionWindow: string | null;
  expiresAt: Date | null;
  finalizingAt: Date | null;
  /** Lines of the input file refused at create (reported in the error file). */
  invalidLines: number;
  counts?: Record<BatchItemState, number>;
}

/** One line of GET /v1/batches/:id/results. */
export interface BatchResultLine {
  custom_id: string;
  id: string;
  status: BatchItemState;
  output: string | null;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
  error: { type: string; message: string } | null;
}

import { REQUEST_STATUSES } from '../shared/types';

/** Statuses of a batch. */
export const BATCH_STATUSES = ['validating', 'in_progress', 'completed', 'cancelling', 'cancelled'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];
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

/** A batch as stored, with its items counted by state. */
export interface BatchRecord {
  id: string;
  tenantId: string;
  status: BatchStatus;
  total: number;
  concurrency: number;
  createdAt: Date;
  startedAt: Date | null;
  cancelRequestedAt: Date | null;
  completedAt: Date | null;
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

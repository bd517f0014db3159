import type { PoolClient } from 'pg';
import type { TerminalBatchStatus } from './batch-types';

/** A batch that has just reached a terminal status (told to every {@link BatchEndedHook}). */
export interface BatchEnded {
  batchId: string;
  tenantId: string;
  status: TerminalBatchStatus;
  /** `/v1/inference` (inline) or the OpenAI endpoint of a batch made from a file. */
  endpoint: string;
  outputFileId: string | null;
  errorFileId: string | null;
}

/**
 * Told of each terminal transition, in its transaction (so an outbox row, e.g. a `batch.completed`
 * webhook, commits with it or not at all), exactly once per batch: the transition happens once.
 */
export type BatchEndedHook = (c: PoolClient, e: BatchEnded) => Promise<void>;

/**
 * The one path by which a batch reaches `completed`, `failed`, `expired` or `cancelled`: sets the
 * status, its time and the result files, then runs `hooks` in the same transaction. The caller holds
 * the batch row's lock and has checked that it is not terminal yet.
 */
export async function endBatch(
  c: PoolClient,
  e: BatchEnded,
  hooks: readonly BatchEndedHook[] = [],
): Promise<void> {
  await c.query(
    `UPDATE batches SET status = $2, completed_at = now(), output_file_id = $3, error_file_id = $4
     WHERE id = $1`,
    [e.batchId, e.status, e.outputFileId, e.errorFileId],
  );
  for (const hook of hooks) await hook(c, e);
}

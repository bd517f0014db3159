import type { BatchFilesWriter, BatchRepo } from '../src/batches/batch-repo';
import type { BatchMetrics } from '../src/batches/batch-metrics';
import type { FileBatchMetrics } from '../src/batches/file-batch-metrics';
import type { BatchStatus } from '../src/batches/batch-types';
import type { Logger } from '../src/observability/logger';
import type { InferenceInput } from '../src/shared/types';
import type { WebhookNotifier } from '../src/webhooks/webhook-notifier';

/** Dependencies of the batch activities; built by the worker entry point. */
export interface BatchDeps {
  batches: BatchRepo;
  metrics: BatchMetrics;
  logger: Logger;
  /** Seconds from an item's start by which its request must be finished (REQUEST_DEADLINE_S). */
  requestDeadlineS: number;
  /** Counts expiries noticed here. @default none */
  fileMetrics?: FileBatchMetrics;
  /** Writes the output and error files of batches made from a file when they end. @default none */
  files?: BatchFilesWriter;
  /** Starts the OpenAI-shaped `batch.<status>` webhook deliveries of an ended batch. @default none */
  webhooks?: Pick<WebhookNotifier, 'batchEnded'>;
}

/** A page of items to start, or word that the batch is being cancelled. */
export interface BatchPage {
  cancelling: boolean;
  items: { idx: number; input: InferenceInput }[];
}

/**
 * Activities of the batch workflow: PostgreSQL reads and writes of the batch and its items. Each is
 * idempotent (a retried page reads the same items; a retried finish changes nothing twice).
 */
export function createBatchActivities(deps: BatchDeps) {
  const { batches, metrics, logger } = deps;
  const deadlineMs = deps.requestDeadlineS * 1000;
  return {
    /** Marks the batch in progress; returns its status (`cancelling` if a cancel came first). */
    async startBatch(batchId: string): Promise<BatchStatus> {
      const status = await batches.markStarted(batchId);
      if (!status) throw new Error(`batch ${batchId} not found`);
      logger.info({ batchId, status }, 'batch started');
      return status;
    },

    /**
     * The next items to start, from `fromIdx` on. Each item is accepted now: its quota window and
     * deadline count from when it starts, not from when the batch was submitted.
     */
    async nextItems(
      batchId: string,
      fromIdx: number,
      maxItems: number,
      maxBytes: number,
    ): Promise<BatchPage> {
      // Past its completion window: stopped as a cancel is, to end `expired` (finishBatch).
      if ((await batches.requestExpiry({ id: batchId, limit: 1 })).length) {
        deps.fileMetrics?.expiries.inc();
        logger.info({ batchId }, 'batch expired: its completion window has passed; stopping it');
        return { cancelling: true, items: [] };
      }
      if ((await batches.status(batchId)) === 'cancelling') return { cancelling: true, items: [] };
      const now = new Date();
      const items = await batches.page(batchId, fromIdx, maxItems, maxBytes);
      return {
        cancelling: false,
        items: items.map(({ idx, input }) => ({
          idx,
          input: {
            ...input,
            acceptedAt: now.toISOString(),
            deadlineAt: new Date(now.getTime() + deadlineMs).toISOString(),
          },
        })),
      };
    },

    /**
     * Ends the batch (items not started are marked cancelled when it was cancelled or expired; a
     * batch made from a file gets its output and error files); returns its status. The workflow
     * reads `cancelled` as cancelled and any other status as completed.
     */
    async finishBatch(batchId: string, fromIdx: number, cancelled: boolean): Promise<BatchStatus> {
      const r = await batches.finish(batchId, fromIdx, cancelled, deps.files);
      if (r.changed) {
        const [counts, b] = await Promise.all([batches.counts(batchId), batches.get(batchId)]);
        metrics.batchesFinished.inc({ status: r.status });
        for (const [outcome, n] of Object.entries(counts)) if (n) metrics.itemsFinished.inc({ outcome }, n);
        logger.info(
          {
            batchId,
            status: r.status,
            counts,
            invalidLines: b?.invalidLines,
            outputFileId: b?.outputFileId,
            errorFileId: b?.errorFileId,
          },
          'batch finished',
        );
      }
      // Keyed by the status the batch ended in, on every run: a retry after a crash between the
      // finish and the deliveries starts what is missing (each delivery is made once).
      await deps.webhooks?.batchEnded(batchId, r.status);
      return r.status;
    },
  };
}

export type BatchActivities = ReturnType<typeof createBatchActivities>;

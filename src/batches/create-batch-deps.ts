import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { AtRestSealer } from '../codec/at-rest-sealer';
import { REQUEST_RUN_TIMEOUT_MARGIN_S, type Env } from '../config/schema';
import type { SubmitService } from '../inference/submit-service';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { QuotaHeadroom } from '../quota/quota-headroom';
import { TemporalBatchGateway, type BatchGateway } from './batch-gateway';
import { batchMetrics } from './batch-metrics';
import { BatchRepo } from './batch-repo';
import { BatchService } from './batch-service';
import { MAX_BATCH_ITEMS } from './batch-types';
import { UploadGate } from './upload-gate';
import { BatchExpirySweep } from './batch-expiry';
import { FileBatchReader } from './file-batch-reader';
import { fileBatchMetrics } from './file-batch-metrics';
import { FileService } from '../files/file-service';
import { fileMetrics, type FileMetrics } from '../files/file-metrics';
import { FilesRepo } from '../files/files-repo';
import type { UploadDeadlineOptions } from './upload-deadline';

/** What the file routes need (POST/GET/DELETE /v1/files). */
export interface FileRoutesDeps {
  service: FileService;
  files: FilesRepo;
  metrics: FileMetrics;
  /** Largest file, bytes (FILE_MAX_BYTES). */
  maxBytes: number;
  /** How long an upload may take to arrive (BATCH_UPLOAD_TIMEOUT_S, BATCH_UPLOAD_IDLE_TIMEOUT_S). */
  uploadDeadline: UploadDeadlineOptions;
  logger: Logger;
}

/** What the batch routes need. */
export interface BatchRoutesDeps {
  service: BatchService;
  batches: BatchRepo;
  gateway: BatchGateway;
  /** /v1/files: the input of OpenAI-shaped batches and their output and error files. @default not mounted */
  files?: FileRoutesDeps;
  /** Stops batches past their completion window; started and stopped with the API. @default none */
  expiry?: BatchExpirySweep;
  logger?: Logger;
  /** Largest body of POST /v1/batches, bytes; larger is a 413 (BATCH_MAX_BODY_BYTES). */
  maxBodyBytes: number;
  /** How long a body may take to arrive (BATCH_UPLOAD_TIMEOUT_S, BATCH_UPLOAD_IDLE_TIMEOUT_S). */
  uploadDeadline: UploadDeadlineOptions;
}

/** The batch routes' dependencies, wired from the API's clients and its submit service. */
export function createBatchDeps(
  cfg: Env,
  deps: {
    pool: Pool;
    client: Client;
    /** The API's own: items are validated and tokenized as a native submit is. */
    submit: Pick<SubmitService, 'prepare'>;
    /** The token-quota look-up of the batch's total at create. */
    headroom: Pick<QuotaHeadroom, 'checkTokens'>;
    metrics: Metrics;
    logger: Logger;
    /** The API's sealer of prompts and outputs at rest (createAtRestSealer). */
    atRest: AtRestSealer;
  },
): BatchRoutesDeps {
  const batches = new BatchRepo(deps.pool, deps.atRest);
  const gateway = new TemporalBatchGateway(deps.client, cfg.ORCHESTRATION_TASK_QUEUE);
  const files = new FilesRepo(deps.pool, deps.atRest);
  // One gate for every upload the API reads: batch bodies, files, and files read into batches.
  const gate = new UploadGate({
    maxUploads: cfg.BATCH_MAX_CONCURRENT_UPLOADS,
    maxPerTenant: cfg.BATCH_MAX_CONCURRENT_UPLOADS_PER_TENANT,
  });
  const uploadDeadline = {
    totalMs: cfg.BATCH_UPLOAD_TIMEOUT_S * 1000,
    idleMs: cfg.BATCH_UPLOAD_IDLE_TIMEOUT_S * 1000,
  };
  const fMetrics = fileMetrics(deps.metrics.registry);
  const fbMetrics = fileBatchMetrics(deps.metrics.registry);
  return {
    batches,
    gateway,
    logger: deps.logger,
    files: {
      service: new FileService({
        pool: deps.pool,
        files,
        gate,
        maxBytes: cfg.FILE_MAX_BYTES,
        maxLineBytes: cfg.BATCH_MAX_ITEM_BYTES,
        maxLines: MAX_BATCH_ITEMS,
        metrics: fMetrics,
        logger: deps.logger,
      }),
      files,
      metrics: fMetrics,
      maxBytes: cfg.FILE_MAX_BYTES,
      uploadDeadline,
      logger: deps.logger,
    },
    expiry: new BatchExpirySweep({ batches, gateway, metrics: fbMetrics, logger: deps.logger }),
    maxBodyBytes: cfg.BATCH_MAX_BODY_BYTES,
    uploadDeadline,
    service: new BatchService({
      submit: deps.submit,
      batches,
      gateway,
      headroom: deps.headroom,
      pool: deps.pool,
      caps: {
        maxBatches: cfg.BATCH_TENANT_MAX_IN_FLIGHT,
        maxItems: cfg.BATCH_TENANT_MAX_ITEMS_IN_FLIGHT,
        maxTokens: cfg.BATCH_TENANT_MAX_ENQUEUED_TOKENS,
      },
      gate,
      fromFile: new FileBatchReader({
        files,
        submit: deps.submit,
        limits: {
          maxBodyBytes: cfg.FILE_MAX_BYTES,
          maxItemBytes: cfg.BATCH_MAX_ITEM_BYTES,
          maxItems: MAX_BATCH_ITEMS,
        },
        completionWindowS: cfg.BATCH_COMPLETION_WINDOW_S,
        metrics: fbMetrics,
        logger: deps.logger,
      }),
      limits: {
        maxBodyBytes: cfg.BATCH_MAX_BODY_BYTES,
        maxItemBytes: cfg.BATCH_MAX_ITEM_BYTES,
        maxItems: MAX_BATCH_ITEMS,
      },
      metrics: batchMetrics(deps.metrics.registry),
      logger: deps.logger,
      concurrency: cfg.BATCH_CONCURRENCY,
      itemsPerRun: cfg.BATCH_ITEMS_PER_RUN,
      childRunTimeoutS: cfg.REQUEST_DEADLINE_S + REQUEST_RUN_TIMEOUT_MARGIN_S,
    }),
  };
}

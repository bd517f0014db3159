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
import type { UploadDeadlineOptions } from './upload-deadline';

/** What the batch routes need. */
export interface BatchRoutesDeps {
  service: BatchService;
  batches: BatchRepo;
  gateway: BatchGateway;
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
  return {
    batches,
    gateway,
    maxBodyBytes: cfg.BATCH_MAX_BODY_BYTES,
    uploadDeadline: {
      totalMs: cfg.BATCH_UPLOAD_TIMEOUT_S * 1000,
      idleMs: cfg.BATCH_UPLOAD_IDLE_TIMEOUT_S * 1000,
    },
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
      gate: new UploadGate({
        maxUploads: cfg.BATCH_MAX_CONCURRENT_UPLOADS,
        maxPerTenant: cfg.BATCH_MAX_CONCURRENT_UPLOADS_PER_TENANT,
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

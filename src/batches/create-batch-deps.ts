import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { AtRestSealer } from '../codec/at-rest-sealer';
import type { BatchRoutesDeps } from '../api/routes/batch-routes';
import { REQUEST_RUN_TIMEOUT_MARGIN_S, type Env } from '../config/schema';
import type { SubmitService } from '../inference/submit-service';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { TemporalBatchGateway } from './batch-gateway';
import { batchMetrics } from './batch-metrics';
import { BatchRepo } from './batch-repo';
import { BatchService } from './batch-service';

/** The batch routes' dependencies, wired from the API's clients and its submit service. */
export function createBatchDeps(
  cfg: Env,
  deps: {
    pool: Pool;
    client: Client;
    /** The API's own: items are validated and tokenized as a native submit is. */
    submit: Pick<SubmitService, 'prepare'>;
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
    service: new BatchService({
      submit: deps.submit,
      batches,
      gateway,
      metrics: batchMetrics(deps.metrics.registry),
      logger: deps.logger,
      concurrency: cfg.BATCH_CONCURRENCY,
      itemsPerRun: cfg.BATCH_ITEMS_PER_RUN,
      childRunTimeoutS: cfg.REQUEST_DEADLINE_S + REQUEST_RUN_TIMEOUT_MARGIN_S,
    }),
  };
}

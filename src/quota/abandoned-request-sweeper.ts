import type { WorkflowClient } from '@temporalio/client';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { AbandonedRequests } from '../requests/abandoned-requests';
import type { RequestsRepo } from '../requests/requests-repo';
import type { QuotaStore } from './quota-store';
import { QuotaSweeper } from './quota-sweeper';

/**
 * The quota sweeper that also ends the rows of the requests whose reservations it reclaims, when no
 * workflow will: what the orchestration worker runs and `npm run quota -- sweep` runs once.
 * `onEnded` is told each row it ended.
 */
export function abandonedRequestSweeper(d: {
  quota: QuotaStore;
  requests: Pick<RequestsRepo, 'finish'>;
  workflows: Pick<WorkflowClient, 'getHandle'>;
  metrics: Metrics;
  logger: Logger;
  intervalS: number;
  onEnded?: (requestId: string) => void;
}): QuotaSweeper {
  const abandoned = new AbandonedRequests(d.requests, d.workflows, d.logger);
  return new QuotaSweeper(d.quota, d.metrics, d.logger, d.intervalS, async (id) => {
    if (await abandoned.settle(id)) d.onEnded?.(id);
  });
}

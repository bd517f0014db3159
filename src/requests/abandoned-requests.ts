import { WorkflowNotFoundError, type WorkflowClient } from '@temporalio/client';
import type { Logger } from '../observability/logger';
import { ErrorType } from '../shared/error-types';
import type { RequestsRepo } from './requests-repo';

/**
 * Ends the row of a request whose reservation the quota sweeper reclaimed, when no workflow will:
 * the API stopped between writing the row and starting the workflow, or an operator terminated the
 * workflow. A workflow still running keeps its row (it settles it itself, late commit included).
 */
export class AbandonedRequests {
  constructor(
    private readonly requests: Pick<RequestsRepo, 'finish'>,
    private readonly workflows: Pick<WorkflowClient, 'getHandle'>,
    private readonly logger: Logger,
  ) {}

  /** Returns whether the row was ended (false: its workflow runs, or Temporal could not say). */
  async settle(requestId: string): Promise<boolean> {
    let message: string;
    try {
      const d = await this.workflows.getHandle(requestId).describe();
      if (d.status.name === 'RUNNING') return false;
      message = `its workflow ended (${d.status.name.toLowerCase()}) without settling the request`;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) {
        this.logger.warn({ err, requestId }, 'abandoned request left open: Temporal did not answer');
        return false;
      }
      message = 'its workflow never started';
    }
    // Only a row that is not terminal changes: a settled request keeps its outcome.
    await this.requests.finish(requestId, 'failed', { type: ErrorType.Internal, message });
    this.logger.warn({ requestId, reason: message }, 'abandoned request ended as failed');
    return true;
  }
}

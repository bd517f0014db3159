import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { batchWorkflow, TenantIdKey, type BatchWorkflowInput } from '../contract/temporal-contract';

/** What the API needs from Temporal for batches. */
export interface BatchGateway {
  /** Starts the batch workflow (workflow id = batch id). */
  start(input: BatchWorkflowInput): Promise<void>;
  /** Asks the batch workflow to cancel; false when it has already closed. */
  cancel(batchId: string): Promise<boolean>;
}

/** {@link BatchGateway} on a Temporal client. */
export class TemporalBatchGateway implements BatchGateway {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  async start(input: BatchWorkflowInput): Promise<void> {
    await this.client.workflow.start(batchWorkflow, {
      taskQueue: this.taskQueue,
      workflowId: input.batchId,
      args: [input],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [{ key: TenantIdKey, value: input.tenantId }],
      memo: { tenantId: input.tenantId, batchId: input.batchId },
    });
  }

  async cancel(batchId: string): Promise<boolean> {
    try {
      await this.client.workflow.getHandle(batchId).cancel();
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }
}

import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { INFERENCE_WORKFLOW_TYPE } from '../shared/constants';
import { ModelKey, TenantIdKey } from '../shared/search-attributes';
import type { InferenceInput } from '../shared/types';

/** What the API needs from Temporal; an interface so routes can be unit-tested without a server. */
export interface WorkflowGateway {
  /** Starts the request's workflow (workflow id = request id). */
  start(input: InferenceInput): Promise<void>;
  /** The workflow's tenant/model/start time if it exists (used before the request row is written). */
  find(
    requestId: string,
  ): Promise<{ tenantId: string; model: string; startedAt: Date; running: boolean } | undefined>;
  /** Requests cancellation of the request's workflow (a no-op once it finished). */
  cancel(requestId: string): Promise<void>;
  /** True when the Temporal frontend answers. */
  ping(): Promise<void>;
}

/** {@link WorkflowGateway} on a Temporal client. */
export class TemporalWorkflowGateway implements WorkflowGateway {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  async start(input: InferenceInput): Promise<void> {
    try {
      await this.client.workflow.start(INFERENCE_WORKFLOW_TYPE, {
        taskQueue: this.taskQueue,
        workflowId: input.requestId,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        typedSearchAttributes: [
          { key: TenantIdKey, value: input.tenantId },
          { key: ModelKey, value: input.model },
        ],
        memo: { tenantId: input.tenantId, model: input.model },
      });
    } catch (err) {
      // A retried start of the same request id: the workflow exists, which is what we wanted.
      if (err instanceof WorkflowExecutionAlreadyStartedError) return;
      throw err;
    }
  }

  async find(
    requestId: string,
  ): Promise<{ tenantId: string; model: string; startedAt: Date; running: boolean } | undefined> {
    try {
      const d = await this.client.workflow.getHandle(requestId).describe();
      const memo = (d.memo ?? {}) as { tenantId?: string; model?: string };
      if (!memo.tenantId || !memo.model) return undefined;
      return {
        tenantId: memo.tenantId,
        model: memo.model,
        startedAt: d.startTime,
        running: d.status.name === 'RUNNING',
      };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  async cancel(requestId: string): Promise<void> {
    await this.client.workflow.getHandle(requestId).cancel();
  }

  async ping(): Promise<void> {
    await this.client.workflowService.getSystemInfo({});
  }
}

import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  inferenceWorkflow,
  InferenceStatusKey,
  ModelKey,
  TenantIdKey,
  type InferenceInput,
} from '../contract/temporal-contract';
import type { Logger } from '../observability/logger';
import { isRequestStatus, type RequestStatus } from '../shared/types';
import type { StartMetrics } from './start-metrics';

/** A request's workflow as Temporal knows it (used before the request row is written). */
export interface WorkflowView {
  tenantId: string;
  model: string;
  startedAt: Date;
  /** The workflow's own status (its InferenceStatus search attribute), else its execution status. */
  status: RequestStatus;
}

/** What the API needs from Temporal; an interface so routes can be unit-tested without a server. */
export interface WorkflowGateway {
  /** Starts the request's workflow (workflow id = request id). */
  start(input: InferenceInput): Promise<void>;
  /** The request's workflow if it exists. */
  find(requestId: string): Promise<WorkflowView | undefined>;
  /** Requests cancellation of the request's workflow; false if the workflow had already closed. */
  cancel(requestId: string): Promise<boolean>;
  /** True when the Temporal frontend answers. */
  ping(): Promise<void>;
}

/** Request status of a workflow that has not written its row, from Temporal's execution status. */
const FROM_EXECUTION: Record<string, RequestStatus> = {
  RUNNING: 'queued',
  COMPLETED: 'completed',
  CANCELLED: 'cancelled',
  FAILED: 'failed',
  TERMINATED: 'failed',
  TIMED_OUT: 'failed',
  CONTINUED_AS_NEW: 'failed',
};

/** {@link WorkflowGateway} on a Temporal client. */
export class TemporalWorkflowGateway implements WorkflowGateway {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly opts: {
      /** Workflow run timeout, a backstop behind the request deadline. Unset: none. */
      runTimeoutS?: number;
      /**
       * Eager workflow start: starts go out on this client, whose NativeConnection a worker of
       * `taskQueue` in this process shares, with `requestEagerStart`; the server may hand the first
       * workflow task straight back to that worker. Unset: plain starts on `client`.
       */
      eager?: { client: Client; metrics: Pick<StartMetrics, 'eager'>; logger: Logger };
    } = {},
  ) {}

  async start(input: InferenceInput): Promise<void> {
    const eager = this.opts.eager;
    try {
      const handle = await (eager?.client ?? this.client).workflow.start(inferenceWorkflow, {
        taskQueue: this.taskQueue,
        workflowId: input.requestId,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        ...(this.opts.runTimeoutS ? { workflowRunTimeout: `${this.opts.runTimeoutS}s` } : {}),
        // Tenant and model are search attributes (not also a memo: memo payloads go through the
        // payload codec, two encryptions at each start and two decryptions in the worker).
        typedSearchAttributes: [
          { key: TenantIdKey, value: input.tenantId },
          { key: ModelKey, value: input.model },
        ],
        ...(eager ? { requestEagerStart: true } : {}),
      });
      if (eager) {
        // Refused when this process's worker had no free slot (or is not running), or by the server.
        const outcome = handle.eagerlyStarted ? 'eager' : 'fallback';
        eager.metrics.eager.inc({ outcome });
        if (!handle.eagerlyStarted)
          eager.logger.debug({ requestId: input.requestId }, 'eager start refused; first task queued');
      }
    } catch (err) {
      // A retried start of the same request id: the workflow exists, which is what we wanted.
      if (err instanceof WorkflowExecutionAlreadyStartedError) return;
      throw err;
    }
  }

  async find(requestId: string): Promise<WorkflowView | undefined> {
    try {
      const d = await this.client.workflow.getHandle(requestId).describe();
      const tenantId = d.typedSearchAttributes.get(TenantIdKey);
      const model = d.typedSearchAttributes.get(ModelKey);
      if (!tenantId || !model) return undefined;
      const own = d.typedSearchAttributes.get(InferenceStatusKey);
      const status = own && isRequestStatus(own) ? own : (FROM_EXECUTION[d.status.name] ?? 'queued');
      return { tenantId, model, startedAt: d.startTime, status };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  async cancel(requestId: string): Promise<boolean> {
    try {
      await this.client.workflow.getHandle(requestId).cancel();
      return true;
    } catch (err) {
      // Temporal answers NotFound for a workflow that already closed.
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  async ping(): Promise<void> {
    await this.client.workflowService.getSystemInfo({});
  }
}

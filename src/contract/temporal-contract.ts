/**
 * The Temporal contract between the product (API, services, activities, workers) and the workflow
 * code: workflow type names and typed references, their inputs and outputs, task queues, search
 * attributes, failure types and patch ids. Modules under `src/` reach `workflows/` only through this
 * module (a lint rule holds them to it), and take workflow code as types only: the references below
 * carry a workflow's name and signature, not its code, so nothing of `workflows/` is bundled into
 * the API.
 *
 * Workflows do not import this module, and it imports only their pure leaves (patches, input and
 * outcome types): not the workflow functions, whose types reach the activities and through them the
 * rest of `src/`, so even the type-only import graph has no cycle. The signatures below are declared
 * here; workers/contract-signatures.ts makes tsc fail if a workflow or activity drifts from them.
 */
import type { Workflow } from '@temporalio/common';
import type { BatchOutcome, BatchWorkflowInput } from '../../workflows/batch-types';
import type { WebhookDeliveryInput } from '../../workflows/webhook-delivery-types';
import type { InferenceInput, InferenceOutcome } from '../shared/types';

export { Patch } from '../../workflows/patches';
export { WebhookFailure, type WebhookDeliveryInput } from '../../workflows/webhook-delivery-types';
export type { BatchOutcome, BatchWorkflowInput } from '../../workflows/batch-types';
export type { InferenceInput, InferenceOutcome } from '../shared/types';
export { ErrorType, NON_RETRYABLE_ERROR_TYPES } from '../shared/error-types';
export {
  InferenceStatusKey,
  ModelKey,
  SEARCH_ATTRIBUTE_REGISTRATIONS,
  TenantIdKey,
} from '../shared/search-attributes';

/**
 * Registered workflow type names: the exported function names under `workflows/`. Never renamed: a
 * running workflow and every recorded history name its type (a unit test pins these values).
 */
export const WorkflowType = {
  inference: 'inferenceWorkflow',
  batch: 'batchWorkflow',
  webhookDelivery: 'webhookDeliveryWorkflow',
} as const;
export type WorkflowType = (typeof WorkflowType)[keyof typeof WorkflowType];

/** Task queue of the orchestration worker (quota, PostgreSQL, workflow tasks, webhook deliveries). */
export const ORCHESTRATION_TASK_QUEUE = 'inference-orchestration';

/** Default GPU task queue; each model in the registry may name its own (`gpu_task_queue`). */
export const DEFAULT_GPU_TASK_QUEUE = 'gpu-default';

/** Signature of `inferenceWorkflow` (workflows/inference-workflow.ts). */
export type InferenceWorkflow = (input: InferenceInput) => Promise<InferenceOutcome>;
/** Signature of `batchWorkflow` (workflows/batch-workflow.ts). */
export type BatchWorkflow = (input: BatchWorkflowInput) => Promise<BatchOutcome>;
/** Signature of `webhookDeliveryWorkflow` (workflows/webhook-delivery-workflow.ts). */
export type WebhookDeliveryWorkflow = (input: WebhookDeliveryInput) => Promise<'delivered' | 'given_up'>;

/** Activity type of the GPU worker's model call (`GpuActivities['callModel']`), as Temporal names it. */
export const CALL_MODEL_ACTIVITY = 'callModel';

/**
 * A stand-in for a workflow function, for `client.workflow.start(ref, …)`, `signalWithStart` and
 * `WithStartWorkflowOperation`: the SDK takes the type name from the function's `name` and the
 * argument and result types from its signature. Calling it is a mistake, so it throws.
 */
function workflowRef<W extends Workflow>(type: WorkflowType): W {
  const ref = (): never => {
    throw new Error(`${type} is a reference to a workflow: start it through a Temporal client`);
  };
  Object.defineProperty(ref, 'name', { value: type });
  return ref as unknown as W;
}

/** One inference request (workflow id = request id) on {@link ORCHESTRATION_TASK_QUEUE}. */
export const inferenceWorkflow = workflowRef<InferenceWorkflow>(WorkflowType.inference);

/** One batch (workflow id = batch id); its items are child inference workflows. */
export const batchWorkflow = workflowRef<BatchWorkflow>(WorkflowType.batch);

/** One webhook delivery (workflow id = delivery id = the `webhook-id` header). */
export const webhookDeliveryWorkflow = workflowRef<WebhookDeliveryWorkflow>(WorkflowType.webhookDelivery);

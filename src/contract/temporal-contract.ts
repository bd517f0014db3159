/**
 * The Temporal contract between the product (API, services, activities, workers) and the workflow
 * code: workflow type names and typed references, their inputs and outputs, task queues, search
 * attributes, failure types and patch ids. Modules under `src/` reach `workflows/` only through this
 * module (a lint rule holds them to it), and take workflow code as types only: the references below
 * carry a workflow's name and signature, not its code, so nothing of `workflows/` is bundled into
 * the API.
 *
 * Workflows do not import this module (they import the pure leaves it re-exports), so it may import
 * their types without a cycle.
 */
import type { Workflow } from '@temporalio/common';
import type { batchWorkflow as batchWorkflowFn } from '../../workflows/batch-workflow';
import type { inferenceWorkflow as inferenceWorkflowFn } from '../../workflows/inference-workflow';
import type { webhookDeliveryWorkflow as webhookDeliveryWorkflowFn } from '../../workflows/webhook-delivery-workflow';

export { Patch } from '../../workflows/patches';
export { WebhookFailure, type WebhookDeliveryInput } from '../../workflows/webhook-delivery-types';
export type { BatchOutcome, BatchWorkflowInput } from '../../workflows/batch-workflow';
export type { InferenceInput, InferenceOutcome } from '../shared/types';
/** Activity interfaces, for the names and signatures of activities (a pending call's type). */
export type { GpuActivities } from '../../activities';
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

export type InferenceWorkflow = typeof inferenceWorkflowFn;
export type BatchWorkflow = typeof batchWorkflowFn;
export type WebhookDeliveryWorkflow = typeof webhookDeliveryWorkflowFn;

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

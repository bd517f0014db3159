/**
 * Names shared by the API, workers and workflows: task queues, the workflow type and search
 * attributes. Pure constants only, so workflows may import this module.
 */

/** Task queue of the orchestration worker (quota, PostgreSQL, workflow tasks). */
export const ORCHESTRATION_TASK_QUEUE = 'inference-orchestration';

/** Default GPU task queue; each model in the registry may name its own. */
export const DEFAULT_GPU_TASK_QUEUE = 'gpu-default';

/** The one workflow type per inference request. */
export const INFERENCE_WORKFLOW_TYPE = 'inferenceWorkflow';

/** Custom search attributes registered on the namespace (see docs/operations.md). */
export const SEARCH_ATTRIBUTES = {
  tenant: 'TenantId',
  model: 'Model',
  status: 'InferenceStatus',
} as const;

/** Prefix for request ids, which are also workflow ids. */
export const REQUEST_ID_PREFIX = 'inf_';

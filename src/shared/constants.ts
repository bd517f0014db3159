/**
 * Names shared by the API, workers and workflows: search attributes and the request id prefix. Pure
 * constants only, so workflows may import this module. Workflow types and task queues are in the
 * Temporal contract (src/contract/temporal-contract.ts).
 */

/** Custom search attributes registered on the namespace (see docs/operations.md). */
export const SEARCH_ATTRIBUTES = {
  tenant: 'TenantId',
  model: 'Model',
  status: 'InferenceStatus',
} as const;

/** Prefix for request ids, which are also workflow ids. */
export const REQUEST_ID_PREFIX = 'inf_';

/**
 * Compile-time check that the workflow and activity code matches the signatures the contract module
 * (src/contract/temporal-contract.ts) declares. The contract does not import the workflow functions
 * (that would close a type-only import cycle through the activities), so this file, above both, holds
 * them together: `tsc` fails here when a workflow's input or result or the model call's name drifts.
 * Types only: nothing of `workflows/` is loaded into a worker's Node process by it.
 */
import type { GpuActivities } from '../activities';
import type {
  BatchWorkflow,
  CALL_MODEL_ACTIVITY,
  InferenceWorkflow,
  WebhookDeliveryWorkflow,
} from '../src/contract/temporal-contract';
import type { batchWorkflow } from '../workflows/batch-workflow';
import type { inferenceWorkflow } from '../workflows/inference-workflow';
import type { webhookDeliveryWorkflow } from '../workflows/webhook-delivery-workflow';

/** `true` when A and B are the same type (not merely assignable one way). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Holds<T extends true> = T;

export type ContractSignatures = [
  Holds<Same<typeof inferenceWorkflow, InferenceWorkflow>>,
  Holds<Same<typeof batchWorkflow, BatchWorkflow>>,
  Holds<Same<typeof webhookDeliveryWorkflow, WebhookDeliveryWorkflow>>,
  Holds<typeof CALL_MODEL_ACTIVITY extends keyof GpuActivities ? true : false>,
];

import * as workflows from '../../../workflows';
import {
  batchWorkflow,
  inferenceWorkflow,
  webhookDeliveryWorkflow,
  WorkflowType,
} from '../../../src/contract/temporal-contract';

/**
 * The contract's references start the types the worker registers (its workflows' function names),
 * and those names never change: running workflows and the recorded histories name them.
 */
test('each workflow reference names the workflow function the worker registers', () => {
  expect(inferenceWorkflow.name).toBe(workflows.inferenceWorkflow.name);
  expect(batchWorkflow.name).toBe(workflows.batchWorkflow.name);
  expect(webhookDeliveryWorkflow.name).toBe(workflows.webhookDeliveryWorkflow.name);
  expect(Object.keys(workflows).sort()).toEqual(Object.values(WorkflowType).sort());
});

test('registered workflow type names are pinned', () => {
  expect(WorkflowType).toEqual({
    inference: 'inferenceWorkflow',
    batch: 'batchWorkflow',
    webhookDelivery: 'webhookDeliveryWorkflow',
  });
});

test('a reference is not workflow code: calling it throws', () => {
  expect(() => (inferenceWorkflow as unknown as () => void)()).toThrow(/reference to a workflow/);
});

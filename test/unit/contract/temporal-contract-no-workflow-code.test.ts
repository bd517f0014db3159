/**
 * The contract takes workflow functions as types only: loading it (as the API does) must not load
 * workflow code. Each workflow module is replaced by one that throws when required.
 */
jest.mock('../../../workflows/inference-workflow', () => {
  throw new Error('the contract loaded inference-workflow.ts');
});
jest.mock('../../../workflows/batch-workflow', () => {
  throw new Error('the contract loaded batch-workflow.ts');
});
jest.mock('../../../workflows/webhook-delivery-workflow', () => {
  throw new Error('the contract loaded webhook-delivery-workflow.ts');
});

test('the contract and its users load no workflow function', async () => {
  const contract = await import('../../../src/contract/temporal-contract');
  expect(contract.inferenceWorkflow.name).toBe('inferenceWorkflow');
  // The API's Temporal users, through the contract.
  await import('../../../src/inference/workflow-gateway');
  await import('../../../src/batches/batch-gateway');
  await import('../../../src/webhooks/webhook-notifier');
});

export { inferenceWorkflow } from './inference-workflow';
export { webhookDeliveryWorkflow } from './webhook-delivery-workflow';
export { batchWorkflow } from './batch-workflow';

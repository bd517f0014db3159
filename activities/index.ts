export {
  createOrchestrationActivities,
  type OrchestrationActivities,
  type OrchestrationDeps,
} from './orchestration-activities';
export { createGpuActivities, type GpuActivities, type GpuDeps } from './gpu-activities';
export { createWebhookActivities, type WebhookActivities, type WebhookDeps } from './webhook-activities';
export { createBatchActivities, type BatchActivities, type BatchDeps } from './batch-activities';

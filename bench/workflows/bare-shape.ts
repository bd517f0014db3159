// Benchmark-only workflow: the same shape as inferenceWorkflow with activities that do nothing, so
// the bare cost of Temporal (server + SDK) is measured on the same server, in the same run.
import { proxyActivities, proxyLocalActivities, upsertSearchAttributes } from '@temporalio/workflow';
import { InferenceStatusKey } from '../../src/shared/search-attributes';

export interface BareActivities {
  admit(id: string): Promise<boolean>;
  record(id: string): Promise<void>;
  commit(id: string): Promise<void>;
  call(id: string): Promise<string>;
}

const local = proxyLocalActivities<BareActivities>({ startToCloseTimeout: '30 seconds' });

export async function bareShapeWorkflow(id: string, gpuQueue: string): Promise<string> {
  await local.admit(id);
  upsertSearchAttributes([{ key: InferenceStatusKey, value: 'running' }]);
  const out = await proxyActivities<BareActivities>({
    taskQueue: gpuQueue,
    startToCloseTimeout: '30 seconds',
    heartbeatTimeout: '10 seconds',
  }).call(id);
  await local.record(id);
  await local.commit(id);
  upsertSearchAttributes([{ key: InferenceStatusKey, value: 'completed' }]);
  return out;
}

import { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { newRequestId } from '../../src/inference/submit-service';
import { inferenceWorkflow } from '../../src/contract/temporal-contract';
import type { InferenceInput } from '../../src/shared/types';
import { FAULTS_AUTH } from '../support/model-server';
import { expectQuotaMatchesLedger, scriptFaults, startStack, type Stack } from '../support/stack';

/** Every request ends: at its deadline at the latest, and at once on errors that cannot heal. */
let s: Stack;
beforeAll(async () => {
  // A 4 s request deadline; one attempt could take 10 s and be retried 4 times.
  s = await startStack({
    model: { request_timeout_ms: 10_000, max_attempts: 4 },
    env: { REQUEST_DEADLINE_S: '4', QUOTA_RESERVATION_TTL_S: '700' },
  });
});
afterAll(async () => {
  await s?.stop();
});

test('a hung model service cannot keep a request past its deadline; the reservation is released', async () => {
  await scriptFaults(s, [{ kind: 'hang', count: 10 }]);
  try {
    const t0 = Date.now();
    const res = await s.call('POST', '/v1/inference', { model: 'ref-small', prompt: 'hang', max_tokens: 8 });
    expect(res.status).toBe(202);
    const done = await s.waitFinished(res.body.id, 30_000);
    const took = Date.now() - t0;
    console.log(`deadline 4 s: request failed after ${took} ms`);
    expect(done).toMatchObject({ status: 'failed', error: { type: 'model_timeout' }, attempts: 1 });
    expect(done.error.message).toMatch(/deadline/);
    // Well before one attempt's own 10 s timeout.
    expect(took).toBeLessThan(9_000);
    await expectQuotaMatchesLedger(s);
  } finally {
    await fetch(`${s.modelUrl}/_faults`, { method: 'DELETE', headers: FAULTS_AUTH });
  }
});

test('the workflow run carries a run timeout behind the deadline', async () => {
  const res = await s.call('POST', '/v1/inference', {
    model: 'ref-small',
    prompt: 'x [[stop:1]]',
    max_tokens: 4,
  });
  await s.waitFinished(res.body.id);
  const d = await s.client.workflow.getHandle(res.body.id).describe();
  // REQUEST_DEADLINE_S + 600 s margin.
  expect(d.raw.executionConfig?.workflowRunTimeout?.seconds?.toString()).toBe('604');
});

test('a permanent error in a bookkeeping step (a tenant that does not exist) fails the request at once', async () => {
  const input: InferenceInput = {
    requestId: newRequestId(),
    tenantId: `ghost-${Date.now()}`,
    model: 'ref-small',
    prompt: 'nobody',
    maxTokens: 4,
    promptTokens: 1,
    estimatedTokens: 5,
    acceptedAt: new Date().toISOString(),
    gpuTaskQueue: s.gpuQueue,
    modelCall: { timeoutMs: 5000, maxAttempts: 1 },
    priority: { priorityKey: 3, fairnessKey: 'ghost' },
  };
  const t0 = Date.now();
  const handle = await s.client.workflow.start(inferenceWorkflow, {
    taskQueue: s.cfg.ORCHESTRATION_TASK_QUEUE,
    workflowId: input.requestId,
    args: [input],
    memo: { tenantId: input.tenantId, model: input.model },
  });
  const err = await handle.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe('invalid_request_error');
  // Not retried until someone notices: local-activity retries would back off to 15 s each.
  expect(Date.now() - t0).toBeLessThan(5_000);
});

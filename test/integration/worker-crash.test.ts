import { spawnSystemProcess, type SystemProcess } from '../support/processes';
import { expectChargedOnce, modelStats, startStack, waitModelInFlight, type Stack } from '../support/stack';

/** A GPU worker process killed with SIGKILL in the middle of a model call. */
let s: Stack;
let gpu: SystemProcess | undefined;
beforeAll(async () => {
  s = await startStack({ gpu: false, modelService: { decodeMsPerToken: 2 } });
});
afterAll(async () => {
  await gpu?.kill('SIGKILL');
  await s?.stop();
});

test('the call is retried on another worker after the heartbeat timeout, and charged exactly once', async () => {
  gpu = await spawnSystemProcess(s, 'workers/gpu-worker.ts', '/healthz');
  const id = await s.submit('survive a crash', 3000);
  await waitModelInFlight(s, 1);

  await gpu.kill('SIGKILL');
  // The dead worker's connection drops, so the model service stops generating for it.
  await waitModelInFlight(s, 0);
  expect((await modelStats(s)).aborted).toBeGreaterThanOrEqual(1);

  await s.node.addGpuWorker();
  const done = await s.waitFinished(id, 60_000);
  expect(done).toMatchObject({ status: 'completed', attempts: 2, usage: { completion_tokens: 3000 } });
  await expectChargedOnce(s, id);
});

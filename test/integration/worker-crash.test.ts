import type { ChildProcess } from 'node:child_process';
import { spawnSystemProcess } from '../support/processes';
import { expectChargedOnce, modelStats, startStack, waitModelInFlight, type Stack } from '../support/stack';

/** A GPU worker process killed with SIGKILL in the middle of a model call. */
let s: Stack;
let child: ChildProcess | undefined;
beforeAll(async () => {
  s = await startStack({ gpu: false, modelService: { decodeMsPerToken: 2 } });
});
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await s?.stop();
});

test('the call is retried on another worker after the heartbeat timeout, and charged exactly once', async () => {
  const gpu = await spawnSystemProcess(s, 'workers/gpu-worker.ts', '/healthz');
  child = gpu.proc;
  const res = await s.call('POST', '/v1/inference', {
    model: 'ref-small',
    prompt: 'survive a crash',
    max_tokens: 3000,
  });
  expect(res.status).toBe(202);
  const id = res.body.id as string;
  await waitModelInFlight(s, 1);

  child.kill('SIGKILL');
  await new Promise((r) => child!.once('exit', r));
  // The dead worker's connection drops, so the model service stops generating for it.
  await waitModelInFlight(s, 0);
  expect((await modelStats(s)).aborted).toBeGreaterThanOrEqual(1);

  await s.node.addGpuWorker();
  const done = await s.waitFinished(id, 60_000);
  expect(done).toMatchObject({ status: 'completed', attempts: 2, usage: { completion_tokens: 3000 } });
  await expectChargedOnce(s, id);
});

import { spawnSystemProcess, type SystemProcess } from '../support/processes';
import { expectChargedOnce, startStack, type Stack } from '../support/stack';

/**
 * A GPU worker that takes a call and then stops answering (SIGSTOP: a frozen node, a cut network):
 * the status says so, naming the worker, until Temporal hands the call to another worker.
 */
let s: Stack;
let gpu: SystemProcess | undefined;
beforeAll(async () => {
  s = await startStack({ gpu: false, modelService: { decodeMsPerToken: 2 } });
});
afterAll(async () => {
  await gpu?.kill('SIGKILL');
  await s?.stop();
});

test('a hung GPU worker is diagnosed as worker_unresponsive, then the call moves on', async () => {
  gpu = await spawnSystemProcess(s, 'workers/gpu-worker.ts', '/healthz');
  await new Promise((r) => setTimeout(r, 1000)); // its polls are waiting on the server
  gpu.proc.kill('SIGSTOP');

  const id = await s.submit('frozen', 8);
  let seen: { status: string; queue?: { diagnosis: Record<string, unknown> } } | undefined;
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    seen = (await s.call('GET', `/v1/inference/${id}`)).body;
    if (seen?.queue?.diagnosis.reason === 'worker_unresponsive') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  expect(seen?.status).toBe('queued');
  expect(seen?.queue?.diagnosis).toMatchObject({
    reason: 'worker_unresponsive',
    attempt: 1,
    worker: expect.stringContaining(String(gpu.proc.pid)),
  });

  await gpu.kill('SIGKILL');
  await s.node.addGpuWorker();
  const done = await s.waitFinished(id, 60_000);
  expect(done).toMatchObject({ status: 'completed', attempts: 2 });
  await expectChargedOnce(s, id);
});

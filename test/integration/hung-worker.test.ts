import type { ChildProcess } from 'node:child_process';
import { spawnSystemProcess } from '../support/processes';
import { expectChargedOnce, startStack, type Stack } from '../support/stack';

/**
 * A GPU worker that takes a call and then stops answering (SIGSTOP: a frozen node, a cut network):
 * the status says so, naming the worker, until Temporal hands the call to another worker.
 */
let s: Stack;
let child: ChildProcess | undefined;
beforeAll(async () => {
  s = await startStack({ gpu: false, modelService: { decodeMsPerToken: 2 } });
});
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await s?.stop();
});

test('a hung GPU worker is diagnosed as worker_unresponsive, then the call moves on', async () => {
  const gpu = await spawnSystemProcess(s, 'workers/gpu-worker.ts', '/healthz');
  child = gpu.proc;
  await new Promise((r) => setTimeout(r, 1000)); // its polls are waiting on the server
  child.kill('SIGSTOP');

  const res = await s.call('POST', '/v1/inference', { model: 'ref-small', prompt: 'frozen', max_tokens: 8 });
  expect(res.status).toBe(202);
  const id = res.body.id as string;
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
    worker: expect.stringContaining(String(child.pid)),
  });

  child.kill('SIGKILL');
  await new Promise((r) => child!.once('exit', r));
  await s.node.addGpuWorker();
  const done = await s.waitFinished(id, 60_000);
  expect(done).toMatchObject({ status: 'completed', attempts: 2 });
  await expectChargedOnce(s, id);
});

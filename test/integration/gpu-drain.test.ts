import { spawnSystemProcess, type SystemProcess } from '../support/processes';
import {
  expectChargedOnce,
  expectQuotaMatchesLedger,
  startStack,
  waitModelInFlight,
  type Stack,
} from '../support/stack';

/** SIGTERM on a GPU worker process: drain within the grace period, or hand the call back. */
let s: Stack;
const procs: SystemProcess[] = [];
beforeAll(async () => {
  s = await startStack({ gpu: false, modelService: { decodeMsPerToken: 2 } });
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  await s?.stop();
});

async function submitAndWaitRunning(maxTokens: number): Promise<string> {
  const res = await s.call('POST', '/v1/inference', {
    model: 'ref-small',
    prompt: 'drain me',
    max_tokens: maxTokens,
  });
  expect(res.status).toBe(202);
  await waitModelInFlight(s, 1);
  return res.body.id as string;
}

test('an in-flight call finishes within the grace period; the worker then exits', async () => {
  const worker = await spawnSystemProcess(s, 'workers/gpu-worker.ts', '/healthz', {
    GPU_DRAIN_GRACE_S: '30',
  });
  procs.push(worker);
  const id = await submitAndWaitRunning(1000); // about 2 s of decoding
  const exited = new Promise<number | null>((r) => worker.proc.once('exit', (code) => r(code)));
  worker.proc.kill('SIGTERM');
  const done = await s.waitFinished(id, 30_000);
  expect(done).toMatchObject({ status: 'completed', attempts: 1, usage: { completion_tokens: 1000 } });
  expect(await exited).toBe(0);
  await expectQuotaMatchesLedger(s);
});

test('a call outliving the grace period is handed back, retried elsewhere and charged once', async () => {
  const worker = await spawnSystemProcess(s, 'workers/gpu-worker.ts', '/healthz', { GPU_DRAIN_GRACE_S: '1' });
  procs.push(worker);
  const id = await submitAndWaitRunning(3000); // about 6 s of decoding
  const exited = new Promise((r) => worker.proc.once('exit', r));
  worker.proc.kill('SIGTERM');
  await exited;
  await s.node.addGpuWorker();
  const done = await s.waitFinished(id, 60_000);
  expect(done).toMatchObject({ status: 'completed', attempts: 2, usage: { completion_tokens: 3000 } });
  await expectChargedOnce(s, id);
});

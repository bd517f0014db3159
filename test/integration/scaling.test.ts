import { join } from 'node:path';
import { type ScalingRow, readScaledQueues, scalingRow } from '../../src/ops/scaled-queues';
import { startStack, type Stack } from '../support/stack';

/**
 * `npm run scaling` against the real test Temporal server: the backlog of a GPU queue as KEDA's
 * temporal scaler reads it, and the replicas KEDA would ask for, from 0 (nothing waits) up during a
 * burst with no GPU worker, and back to 0 once a worker has drained the queue.
 */
let s: Stack;
beforeAll(async () => {
  // No GPU worker: nothing drains the GPU queue until the test adds one.
  s = await startStack({ gpu: false, modelService: { slots: 16, decodeMsPerToken: 1 } });
  await s.setLimits({ max_in_flight: 1000, requests_per_minute: 10_000, requests_per_day: 100_000 });
});
afterAll(() => s?.stop());

/** The generated ScaledObject of the registry's model, pointed at this test's GPU queue. */
const gpuQueue = () => {
  const q = readScaledQueues(join(__dirname, '..', '..', 'manifests', 'base', 'generated'))[0]!;
  return { ...q, taskQueue: s.gpuQueue, namespace: s.cfg.TEMPORAL_NAMESPACE };
};
const row = (): Promise<ScalingRow> => scalingRow(s.client.connection, gpuQueue());
async function until(ok: (r: ScalingRow) => boolean, ms = 30_000): Promise<ScalingRow> {
  const end = Date.now() + ms;
  for (;;) {
    const r = await row();
    if (ok(r) || Date.now() > end) return r;
    await new Promise((res) => setTimeout(res, 200));
  }
}

const BURST = 40;

test('replicas rise from 0 with a burst and fall back to 0 once a worker drains the queue', async () => {
  const target = gpuQueue();
  expect(target).toMatchObject({ targetQueueSize: 16, activationTargetQueueSize: 0, minReplicaCount: 0 });

  const idle = await row();
  expect(idle).toMatchObject({ backlog: 0, pollers: 0, desired: 0 });

  // What `npm run scaling --watch` would show, sampled every 250 ms: each change of backlog or replicas.
  const t0 = Date.now();
  const timeline: string[] = [];
  let sampling = true;
  const sampler = (async () => {
    let last = '';
    while (sampling) {
      const r = await row();
      const now = `backlog ${r.backlog} pollers ${r.pollers} replicas ${r.desired}`;
      if (now !== last) timeline.push(`+${((Date.now() - t0) / 1000).toFixed(1)}s ${now}`);
      last = now;
      await new Promise((res) => setTimeout(res, 250));
    }
  })();
  const ids: string[] = [];
  for (let i = 0; i < BURST; i++) ids.push(await s.submit(`burst ${i}`, 8));
  // Every call waits on the GPU queue: ceil(40 / 16) = 3 replicas.
  const burst = await until((r) => r.backlog >= BURST);
  expect(burst).toMatchObject({ backlog: BURST, pollers: 0, desired: Math.ceil(BURST / 16) });
  const submittedS = ((Date.now() - t0) / 1000).toFixed(1);

  const added = ((Date.now() - t0) / 1000).toFixed(1);
  await s.node.addGpuWorker();
  timeline.push(`+${added}s GPU worker added`);
  for (const id of ids) expect((await s.waitFinished(id)).status).toBe('completed');
  timeline.push(`+${((Date.now() - t0) / 1000).toFixed(1)}s all ${BURST} completed`);
  const drained = await until((r) => r.backlog === 0 && r.pollers > 0);
  expect(drained).toMatchObject({ backlog: 0, desired: 0 });
  expect(drained.pollers).toBeGreaterThan(0);
  sampling = false;
  await sampler;
  console.log(`${BURST} submitted by +${submittedS}s; worker added then\n${timeline.join('\n')}`);
});

import { ownDatabase } from '../support/own-database';
import { scriptFaults, startStack, type Stack } from '../support/stack';

/** Position, ETA and diagnosis of waiting requests on GET /v1/inference/:id, each cause for real. */
let s: Stack;
let db: Awaited<ReturnType<typeof ownDatabase>> | undefined;
beforeAll(async () => {
  // Its own database: a position counts every queued request of the model ('ref-small'), and the
  // test files running beside this one queue theirs in the shared database too.
  db = await ownDatabase('qinsight');
  // No GPU worker at first: the queue has no poller.
  s = await startStack({ gpu: false, modelService: { decodeMsPerToken: 5 }, env: { DATABASE_URL: db.url } });
  await s.setLimits({ max_in_flight: 1000, requests_per_minute: 10_000, requests_per_day: 100_000 });
});
afterAll(async () => {
  await s?.stop();
  await db?.drop();
});

const status = async (id: string, key = s.apiKey) =>
  (await s.call('GET', `/v1/inference/${id}`, undefined, key)).body;
async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('no worker: position in line and the diagnosis; a worker arrives and the line drains', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await s.submit(`line ${i}`, 10));
  const last = await until(
    () => status(ids[4]!),
    (b) => b.status === 'queued' && b.queue?.position === 5,
  );
  expect(last.queue).toMatchObject({
    task_queue: s.gpuQueue,
    position: 5,
    ahead_own: 4,
    workers: 0,
    eta_s: null,
    diagnosis: { reason: 'no_worker' },
  });
  await s.node.addGpuWorker();
  for (const id of ids) expect((await s.waitFinished(id)).status).toBe('completed');
  expect((await status(ids[4]!)).queue).toBeUndefined();
});

test('the model service failing: the last error and the attempt', async () => {
  await scriptFaults(s, [{ kind: 'status', status: 500, count: 2 }]);
  const id = await s.submit('flaky', 4);
  const seen = await until(
    () => status(id),
    (b) => b.queue?.diagnosis?.reason === 'model_failing',
  );
  expect(seen.queue.diagnosis).toMatchObject({ reason: 'model_failing', attempt: expect.any(Number) });
  expect(seen.queue.diagnosis.last_error).toMatch(/500/);
  expect((await s.waitFinished(id)).status).toBe('completed');
});

test("busy GPUs for another tenant; the tenant's own backlog for the one that flooded the queue", async () => {
  // The in-process GPU worker runs 16 calls at once: 40 calls of 20 s each (4,000 tokens at 5 ms)
  // leave 24 waiting on the queue, and no slot frees before the other tenant's request is seen,
  // even on a loaded machine where the 40 submits take several seconds (a CI run with 10 s calls
  // saw a slot free first: the other tenant's request went straight to it).
  const flood: string[] = [];
  for (let i = 0; i < 40; i++) flood.push(await s.submit(`flood ${i}`, 4000));
  const other = `other-${s.tenantId}`;
  const otherKey = `sk-${other}-key`;
  await s.tenants.ensure({ id: other, name: 'other', tier: 'standard' });
  await s.tenants.addApiKey(other, otherKey);
  const theirs = await s.submit('just one', 4, otherKey);
  const seenOther = await until(
    () => status(theirs, otherKey),
    (b) => b.queue?.diagnosis?.reason === 'gpus_busy',
  );
  expect(seenOther.queue).toMatchObject({ ahead_own: 0, workers: 1, diagnosis: { reason: 'gpus_busy' } });
  expect(seenOther.queue.position).toBeGreaterThan(8);
  const mine = await until(
    () => status(flood[39]!),
    (b) => b.queue?.diagnosis?.reason === 'tenant_backlog',
  );
  expect(mine.queue.ahead_own).toBeGreaterThan(0);
  expect(mine.queue.ahead_own).toBe(mine.queue.position - 1);
  // Positions count down and an ETA appears once the queue moves.
  const later = await until(
    () => status(flood[39]!),
    (b) => b.queue === undefined || (b.queue.position < mine.queue.position && b.queue.eta_s !== null),
    30_000,
  );
  if (later.queue) expect(later.queue.eta_s).toBeGreaterThan(0);
  for (const id of [...flood, theirs]) await s.call('POST', `/v1/inference/${id}/cancel`);
});

import { getTokenizer } from '../../src/tokenizer/tokenizer';
import { spawnSystemProcess, type SystemProcess } from '../support/processes';
import { FAULTS_AUTH } from '../support/model-server';
import { expectQuotaMatchesLedger, startStack, type Stack } from '../support/stack';

/** Quotas end to end: HTTP → API → Temporal → workers → Redis/PostgreSQL. */
let s: Stack;
let procs: SystemProcess[] = [];
beforeAll(async () => {
  s = await startStack({ modelService: { decodeMsPerToken: 1 } });
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill()));
  await s?.stop();
});

// No stop marker: every request generates exactly max_tokens, so its actual usage equals its
// estimate and a completion during the burst frees no capacity.
const PROMPT = 'burst';
const MAX = 10;
const ESTIMATE = getTokenizer().count(PROMPT) + MAX;

async function burst(urls: string[], n: number) {
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      s.callAt(urls[i % urls.length]!, 'POST', '/v1/inference', {
        model: 'ref-small',
        prompt: PROMPT,
        max_tokens: MAX,
      }),
    ),
  );
}

/** Samples used + reserved while `during` runs; returns the highest value seen. */
async function peakWhile(during: Promise<unknown>): Promise<number> {
  let peak = 0;
  let done = false;
  void during.finally(() => (done = true));
  while (!done) {
    const t = (await s.call('GET', '/v1/quota')).body.limits.tokens_per_day;
    peak = Math.max(peak, t.used + t.reserved);
    await new Promise((r) => setTimeout(r, 5));
  }
  return peak;
}

test.each([
  ['one API and one worker', 1],
  ['two API processes, two orchestration and two GPU worker processes', 2],
])(
  '1,000 concurrent submits, a token limit admitting exactly K (%s): exactly K admitted',
  async (_name, replicas) => {
    const K = 23;
    let urls = [s.apiUrl];
    if (replicas === 2) {
      procs = await Promise.all([
        spawnSystemProcess(s, 'src/api/main.ts', '/readyz'),
        spawnSystemProcess(s, 'src/api/main.ts', '/readyz'),
        spawnSystemProcess(s, 'workers/orchestration-worker.ts', '/healthz'),
        spawnSystemProcess(s, 'workers/orchestration-worker.ts', '/healthz'),
        spawnSystemProcess(s, 'workers/gpu-worker.ts', '/healthz'),
        spawnSystemProcess(s, 'workers/gpu-worker.ts', '/healthz'),
      ]);
      // The in-process workers stop polling, so the processes do the work.
      await s.node.stopWorkers();
      urls = [procs[0]!.url, procs[1]!.url];
    }
    const before = await s.ledgerTotals();
    const limit = before.tokens + K * ESTIMATE;
    await s.setLimits({
      tokens_per_day: limit,
      requests_per_minute: 100_000,
      requests_per_day: 100_000,
      max_in_flight: 100_000,
    });

    const all = burst(urls, 1000);
    const peak = await peakWhile(all);
    const results = await all;
    const admitted = results.filter((r) => r.status === 202);
    const refused = results.filter((r) => r.status === 429);
    expect(admitted).toHaveLength(K);
    expect(refused).toHaveLength(1000 - K);
    expect(refused.every((r) => r.body.error.param === 'tokens_per_day')).toBe(true);
    expect(refused[0]!.headers.get('x-ratelimit-limit')).toBe(String(limit));
    expect(Number(refused[0]!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(limit);

    for (const r of admitted) expect((await s.waitFinished(r.body.id)).status).toBe('completed');
    const after = await s.ledgerTotals();
    expect(after.requests - before.requests).toBe(K);
    await expectQuotaMatchesLedger(s);
    await s.setLimits({ tokens_per_day: null });
  },
);

test('Redis flushed in the middle of a run: counters rebuilt from the ledger, nothing charged twice', async () => {
  await s.setLimits({ tokens_per_day: null, requests_per_minute: 100_000, max_in_flight: 100_000 });
  const before = await s.ledgerTotals();
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) {
    const r = await s.call('POST', '/v1/inference', {
      model: 'ref-small',
      prompt: `flush ${i} [[stop:20]]`,
      max_tokens: 40,
    });
    expect(r.status).toBe(202);
    ids.push(r.body.id);
    if (i === 15) {
      const keys = await s.redis.keys(`${s.cfg.REDIS_KEY_PREFIX}:*`);
      await s.redis.del(...keys);
    }
  }
  const done = await Promise.all(ids.map((id) => s.waitFinished(id)));
  expect(done.every((d) => d.status === 'completed')).toBe(true);
  const after = await s.ledgerTotals();
  expect(after.requests - before.requests).toBe(30);
  expect(after.tokens - before.tokens).toBe(done.reduce((a, d) => a + d.usage.total_tokens, 0));
  await expectQuotaMatchesLedger(s);
  const rebuilds = await s.metrics.quotaRebuilds.get();
  expect(rebuilds.values.reduce((a, v) => a + v.value, 0)).toBeGreaterThanOrEqual(1);
});

test('model failures leave nothing reserved and usage equal to the ledger', async () => {
  await fetch(`${s.modelUrl}/_faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...FAULTS_AUTH },
    body: JSON.stringify({ script: [{ kind: 'status', status: 400, count: 3 }] }),
  });
  const ids = await Promise.all(
    Array.from(
      { length: 6 },
      async (_, i) =>
        (
          await s.call('POST', '/v1/inference', {
            model: 'ref-small',
            prompt: `mixed ${i} [[stop:3]]`,
            max_tokens: 8,
          })
        ).body.id as string,
    ),
  );
  const done = await Promise.all(ids.map((id) => s.waitFinished(id)));
  expect(done.filter((d) => d.status === 'failed')).toHaveLength(3);
  expect(done.filter((d) => d.status === 'completed')).toHaveLength(3);
  await expectQuotaMatchesLedger(s);
});

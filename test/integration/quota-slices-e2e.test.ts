import { QuotaAuditor } from '../../src/quota/quota-audit';
import { createLogger } from '../../src/observability/logger';
import { getTokenizer } from '../../src/tokenizer/tokenizer';
import { spawnSystemProcess, type SystemProcess } from '../support/processes';
import {
  expectChargedOnce,
  expectQuotaMatchesLedger,
  startStack,
  waitModelInFlight,
  type Stack,
} from '../support/stack';

/**
 * Reservation in slices end to end (HTTP → API → Temporal → GPU worker → Redis/PostgreSQL): a
 * request reserves its prompt and a first slice, the GPU worker extends it as tokens stream, and a
 * tenant at its daily token limit gets exactly the tokens left, then `finish_reason: length` with
 * `stop_reason: quota_exhausted` in its status and its stream. The reference model never stops by
 * itself: every answer runs to max_tokens unless something stops it.
 */
const SLICE = 16;
let s: Stack;
let gpu: SystemProcess | undefined;
beforeAll(async () => {
  s = await startStack({ modelService: { decodeMsPerToken: 2 }, model: { reserve_slice_tokens: SLICE } });
});
afterAll(async () => {
  await gpu?.kill('SIGKILL');
  await s?.stop();
});

const unlimited = { requests_per_minute: 100_000, requests_per_day: 100_000, max_in_flight: 100_000 };

/** The events of the request's native SSE stream, once it is done. */
async function streamEvents(id: string): Promise<{ event: string; data: Record<string, unknown> }[]> {
  const res = await fetch(`${s.apiUrl}/v1/inference/${id}/stream`, {
    headers: { authorization: `Bearer ${s.apiKey}` },
  });
  const out: { event: string; data: Record<string, unknown> }[] = [];
  for (const block of (await res.text()).split('\n\n')) {
    const event = /^event: (.*)$/m.exec(block)?.[1];
    const data = /^data: (.*)$/m.exec(block)?.[1];
    if (event && data) out.push({ event, data: JSON.parse(data) as Record<string, unknown> });
  }
  return out;
}

test('a request streams past its first slice: the reservation grows with it and the answer is whole', async () => {
  await s.setLimits({ tokens_per_day: null, ...unlimited });
  const res = await s.call('POST', '/v1/inference', { model: 'ref-small', prompt: 'grow', max_tokens: 200 });
  expect(res.status).toBe(202);
  const prompt = getTokenizer().count('grow');
  expect(res.body.estimated_tokens).toBe(prompt + SLICE); // what it reserves at accept
  const done = await s.waitFinished(res.body.id as string);
  expect(done).toMatchObject({
    status: 'completed',
    finish_reason: 'length',
    usage: { completion_tokens: 200 },
  });
  expect(done.stop_reason).toBeUndefined();
  expect(done.estimated_tokens).toBe(prompt + 200); // the slices, persisted as they were reserved
  await expectChargedOnce(s, res.body.id as string);
});

test('at the daily token limit the stream is cut at exactly the tokens left: length, quota_exhausted, never one token over', async () => {
  const before = await s.ledgerTotals();
  const prompt = getTokenizer().count('cut me');
  const room = 3 * SLICE + 5; // a partial last slice
  const limit = before.tokens + prompt + room;
  await s.setLimits({ tokens_per_day: limit, ...unlimited });
  const res = await s.call('POST', '/v1/inference', {
    model: 'ref-small',
    prompt: 'cut me',
    max_tokens: 400,
  });
  expect(res.status).toBe(202); // prompt + first slice fit; up front (prompt + 400) it would be a 429
  const id = res.body.id as string;
  const done = await s.waitFinished(id);
  expect(done).toMatchObject({
    status: 'completed',
    finish_reason: 'length',
    stop_reason: 'quota_exhausted',
    usage: { prompt_tokens: prompt, completion_tokens: room, total_tokens: prompt + room },
  });
  // The stored output is exactly the tokens billed (the reference model's tokens are one word each).
  expect(getTokenizer().count(done.output as string)).toBe(room);
  const events = await streamEvents(id);
  const end = events.filter((e) => e.event === 'attempt_end');
  expect(end[end.length - 1]!.data).toMatchObject({
    finish_reason: 'length',
    stop_reason: 'quota_exhausted',
  });
  expect(events.find((e) => e.event === 'done')!.data).toMatchObject({
    status: 'completed',
    finish_reason: 'length',
    stop_reason: 'quota_exhausted',
  });
  const streamed = events
    .filter((e) => e.event === 'token')
    .map((e) => e.data.text)
    .join('');
  expect(streamed).toBe(done.output);
  const quota = (await s.call('GET', '/v1/quota')).body.limits.tokens_per_day;
  expect(quota).toMatchObject({ used: limit, reserved: 0, remaining: 0 });
  await expectChargedOnce(s, id);
  // Counted where operators look: the GPU worker's /metrics.
  const refusals = await s.node.workers.gpu[0]!.metrics.registry.getSingleMetricAsString(
    'inference_quota_slice_refusals_total',
  );
  expect(refusals).toMatch(/model="ref-small",limit="tokens_per_day"[^}]*} 1$/m);
  // Nothing left: the next request is a 429 at accept.
  const next = await s.call('POST', '/v1/inference', { model: 'ref-small', prompt: 'more', max_tokens: 10 });
  expect(next.status).toBe(429);
});

test('a GPU worker killed mid-stream while its slices are extended: retried, charged once, ledger == Redis by the audit', async () => {
  await s.setLimits({ tokens_per_day: null, ...unlimited });
  await s.node.stopGpuWorkers();
  gpu = await spawnSystemProcess(s, 'workers/gpu-worker.ts', '/healthz');
  const id = await s.submit('crash between slices', 600);
  await waitModelInFlight(s, 1);
  // A random point of the stream: a slice is extended every 16 tokens (32 ms).
  await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 400)));
  await gpu.kill('SIGKILL');
  await waitModelInFlight(s, 0);
  const reserved = Number(await s.redis.hget(s.quota.keys.record(s.tenantId, id), 'tokens'));
  const { rows } = await s.pool.query<{ estimated_tokens: number }>(
    'SELECT estimated_tokens FROM requests WHERE id = $1',
    [id],
  );
  // PostgreSQL was written first: a rebuild now would reserve at least what Redis holds.
  expect(rows[0]!.estimated_tokens).toBeGreaterThanOrEqual(reserved);
  expect(reserved).toBeGreaterThan(getTokenizer().count('crash between slices') + SLICE);

  await s.node.addGpuWorker();
  const done = await s.waitFinished(id, 60_000);
  expect(done).toMatchObject({ status: 'completed', usage: { completion_tokens: 600 } });
  await expectChargedOnce(s, id);
  const auditor = new QuotaAuditor({
    pool: s.pool,
    redis: s.redis,
    quota: s.quota,
    metrics: s.node.metrics,
    logger: createLogger({ component: 't', level: 'silent' }),
  });
  const drift = await auditor.audit(s.tenantId, false);
  expect(drift.map((d) => [d.window, d.requestsDrift, d.tokensDrift])).toEqual([
    ['minute', 0, 0],
    ['day', 0, 0],
    ['month', 0, 0],
  ]);
  await expectQuotaMatchesLedger(s);
});

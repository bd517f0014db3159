import {
  expectQuotaMatchesLedger,
  modelStats,
  scriptFaults,
  startStack,
  waitModelInFlight,
  type Stack,
} from '../support/stack';

/** The failure matrix of issue "model service integration", against the reference model service. */
let s: Stack;
beforeAll(async () => {
  s = await startStack({ model: { request_timeout_ms: 2000, max_attempts: 3 } });
});
afterAll(async () => {
  await s?.stop();
});
afterEach(async () => {
  await expectQuotaMatchesLedger(s);
});

const submit = (prompt: string): Promise<string> => s.submit(prompt, 8);

test('503 with Retry-After is retried after the delay the service asked for', async () => {
  await scriptFaults(s, [{ kind: 'status', status: 503, retryAfterS: 3, count: 1 }]);
  const t0 = Date.now();
  const done = await s.waitFinished(await submit('retry-after [[stop:2]]'));
  expect(done).toMatchObject({ status: 'completed', attempts: 2 });
  expect(done.last_error).toMatch(/503/);
  // The retry policy's first backoff is 1 s; Retry-After: 3 must win.
  expect(Date.now() - t0).toBeGreaterThanOrEqual(2900);
});

test('429 with Retry-After is retried', async () => {
  await scriptFaults(s, [{ kind: 'status', status: 429, retryAfterS: 1, count: 1 }]);
  const done = await s.waitFinished(await submit('rate limited [[stop:2]]'));
  expect(done).toMatchObject({ status: 'completed', attempts: 2 });
  expect(done.last_error).toMatch(/429/);
});

test('500 and a dropped connection are retried with backoff', async () => {
  await scriptFaults(s, [
    { kind: 'status', status: 500, count: 1 },
    { kind: 'drop', count: 1 },
  ]);
  const done = await s.waitFinished(await submit('flaky [[stop:2]]'));
  expect(done).toMatchObject({ status: 'completed', attempts: 3 });
});

test('a hung service: the attempt times out and is retried', async () => {
  await scriptFaults(s, [{ kind: 'hang', count: 1 }]);
  const done = await s.waitFinished(await submit('hang once [[stop:2]]'), 20_000);
  expect(done).toMatchObject({ status: 'completed', attempts: 2 });
  expect((await modelStats(s)).in_flight).toBe(0);
});

test('400 fails at once, is not retried, and carries the service message', async () => {
  await scriptFaults(s, [{ kind: 'status', status: 400, count: 1 }]);
  const before = (await modelStats(s)).requests_total;
  const done = await s.waitFinished(await submit('bad request'));
  expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { type: 'model_invalid_request' } });
  expect(done.error.message).toMatch(/injected fault: HTTP 400/);
  expect((await modelStats(s)).requests_total - before).toBe(1);
  expect(done.usage).toBeUndefined();
});

test('retries exhausted: the request fails, nothing is charged, the reservation is released', async () => {
  await scriptFaults(s, [{ kind: 'status', status: 500, count: 3 }]);
  const id = await submit('always down');
  const done = await s.waitFinished(id, 20_000);
  expect(done).toMatchObject({ status: 'failed', attempts: 3, error: { type: 'model_unavailable' } });
  const { rowCount } = await s.pool.query('SELECT 1 FROM usage_ledger WHERE request_id = $1', [id]);
  expect(rowCount).toBe(0);
});

test('cancelling a long generation aborts the model call mid-stream and bills only what was produced', async () => {
  await scriptFaults(s, []);
  // 3,000 tokens at 1 ms each: the stream would run for about 3 s if nothing aborted it.
  const res = await s.call('POST', '/v1/inference', {
    model: 'ref-small',
    prompt: 'long one',
    max_tokens: 3000,
  });
  const id = res.body.id as string;
  await waitModelInFlight(s, 1);
  const before = await modelStats(s);
  const t0 = Date.now();
  expect((await s.call('POST', `/v1/inference/${id}/cancel`)).status).toBe(202);
  // `cancelled` is written only after the activity acknowledged the cancel, i.e. closed the stream.
  const done = await s.waitFinished(id);
  const after = await modelStats(s);
  expect(done).toMatchObject({ status: 'cancelled', error: { type: 'cancelled' } });
  expect(after.in_flight).toBe(0);
  expect(after.aborted).toBe(before.aborted + 1);
  expect(after.completion_tokens_total - before.completion_tokens_total).toBeLessThan(3000);
  // A figure, not an assertion: timing depends on the machine's load (see docs/models.md).
  console.log(`cancel -> request cancelled, stream aborted, in ${Date.now() - t0} ms`);
  expect((await s.call('POST', `/v1/inference/${id}/cancel`)).status).toBe(409);
  // The partial output is kept and charged once: prompt + the tokens produced before the abort.
  expect(done.usage.completion_tokens).toBeGreaterThan(0);
  expect(done.usage.completion_tokens).toBeLessThan(3000);
  const ledger = await s.pool.query<{ tokens: string }>(
    'SELECT prompt_tokens + completion_tokens AS tokens FROM usage_ledger WHERE request_id = $1',
    [id],
  );
  expect(ledger.rows.map((r) => Number(r.tokens))).toEqual([done.usage.total_tokens]);
});

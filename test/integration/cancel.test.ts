import {
  expectQuotaMatchesLedger,
  modelStats,
  startStack,
  waitModelInFlight,
  type Stack,
} from '../support/stack';

/**
 * A cancel at any moment ends in a terminal status with the reservation released at once (no
 * sweeper), and tokens the GPU produced before the cancel are kept and charged exactly once.
 */
let s: Stack;
beforeAll(async () => {
  // 20 ms per token: a 200-token request streams for ~4 s, long enough to cancel mid-stream.
  s = await startStack({
    modelService: { decodeMsPerToken: 20 },
    model: { request_timeout_ms: 3000, max_attempts: 2 },
  });
});
afterAll(async () => {
  await s?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const submit = (prompt: string, maxTokens = 200): Promise<string> => s.submit(prompt, maxTokens);

async function inFlight(): Promise<{ inFlight: number; reservedTokens: number }> {
  const l = (await s.call('GET', '/v1/quota')).body.limits;
  return { inFlight: l.max_in_flight.reserved, reservedTokens: l.tokens_per_day.reserved };
}

async function ledgerRows(id: string): Promise<{ total_tokens: number; completion_tokens: number }[]> {
  const { rows } = await s.pool.query<{ total_tokens: number; completion_tokens: number }>(
    'SELECT total_tokens, completion_tokens FROM usage_ledger WHERE request_id = $1',
    [id],
  );
  return rows;
}

test.each([0, 0, 0, 5, 20, 50, 100, 250])(
  'a cancel %i ms after the 202 ends cancelled, charges nothing unless tokens were produced, and frees the reservation at once',
  async (delayMs) => {
    const id = await submit(`early cancel ${delayMs} [[stop:100]]`);
    if (delayMs) await sleep(delayMs);
    const cancel = await s.call('POST', `/v1/inference/${id}/cancel`);
    expect(cancel.status).toBe(202);
    const done = await s.waitFinished(id, 15_000);
    expect(done.status).toBe('cancelled');
    expect(done.error).toMatchObject({ type: 'cancelled' });
    const rows = await ledgerRows(id);
    if (done.usage) {
      // The GPU produced tokens before the cancel reached it: kept, shown and charged once.
      expect(done.finish_reason).toBe('cancelled');
      expect(rows).toEqual([
        { total_tokens: done.usage.total_tokens, completion_tokens: done.usage.completion_tokens },
      ]);
    } else {
      expect(rows).toEqual([]);
    }
    // Released by the workflow itself, not the sweeper (its TTL is hours).
    expect(await inFlight()).toEqual({ inFlight: 0, reservedTokens: 0 });
    await expectQuotaMatchesLedger(s);
  },
);

test('a cancel mid-stream keeps the output so far and charges prompt + produced tokens exactly once', async () => {
  const id = await submit('cancel mid-stream', 200);
  // Let it produce some tokens (20 ms each).
  await waitModelInFlight(s, 1);
  await sleep(800);
  const cancel = await s.call('POST', `/v1/inference/${id}/cancel`);
  expect(cancel.status).toBe(202);
  const done = await s.waitFinished(id, 15_000);
  expect(done).toMatchObject({ status: 'cancelled', finish_reason: 'cancelled' });
  expect(done.output.length).toBeGreaterThan(0);
  expect(done.usage.completion_tokens).toBeGreaterThan(5);
  expect(done.usage.completion_tokens).toBeLessThan(200);
  expect(done.usage.total_tokens).toBe(done.usage.prompt_tokens + done.usage.completion_tokens);
  expect(await ledgerRows(id)).toEqual([
    { total_tokens: done.usage.total_tokens, completion_tokens: done.usage.completion_tokens },
  ]);
  expect((await modelStats(s)).in_flight).toBe(0);
  expect(await inFlight()).toEqual({ inFlight: 0, reservedTokens: 0 });
  await expectQuotaMatchesLedger(s);
});

test('a cancel before the workflow ran its first task ends cancelled and frees the reservation', async () => {
  // No worker polls: the workflow's first task (start + cancel request) waits for one.
  await s.node.stopWorkers();
  try {
    const id = await submit('cancelled before any worker saw it', 20);
    expect(await inFlight()).toEqual({ inFlight: 1, reservedTokens: expect.any(Number) });
    expect((await s.call('POST', `/v1/inference/${id}/cancel`)).status).toBe(202);
    await s.node.restartWorkers();
    const done = await s.waitFinished(id, 15_000);
    expect(done.status).toBe('cancelled');
    expect(await ledgerRows(id)).toEqual([]);
    expect(await inFlight()).toEqual({ inFlight: 0, reservedTokens: 0 });
  } finally {
    await s.node.restartWorkers();
  }
});

test('a cancel while queued for a GPU ends cancelled without calling the model', async () => {
  await s.node.stopGpuWorkers();
  try {
    const id = await submit('queued for a GPU', 20);
    await sleep(500);
    expect((await s.call('GET', `/v1/inference/${id}`)).body.status).toBe('queued');
    const before = (await modelStats(s)).requests_total;
    expect((await s.call('POST', `/v1/inference/${id}/cancel`)).status).toBe(202);
    const done = await s.waitFinished(id, 15_000);
    expect(done.status).toBe('cancelled');
    expect((await modelStats(s)).requests_total).toBe(before);
    expect(await ledgerRows(id)).toEqual([]);
    expect(await inFlight()).toEqual({ inFlight: 0, reservedTokens: 0 });
  } finally {
    await s.node.restartWorkers();
  }
});

test('cancelling a finished request answers 409 and changes nothing', async () => {
  const id = await submit('finish first [[stop:2]]', 8);
  const done = await s.waitFinished(id);
  expect(done.status).toBe('completed');
  const res = await s.call('POST', `/v1/inference/${id}/cancel`);
  expect(res.status).toBe(409);
  expect(res.body.error).toMatchObject({ type: 'conflict_error', param: 'id' });
  expect(res.body.error.message).toMatch(/completed/);
  expect((await s.call('GET', `/v1/inference/${id}`)).body).toEqual(done);
  expect(await ledgerRows(id)).toHaveLength(1);
});

test('a model call that times out after streaming part of its output charges what was produced', async () => {
  // The attempt deadline is 3 s (request_timeout_ms); at 20 ms per token 400 tokens take 8 s: a
  // margin no late timer on a loaded machine makes up (at 200 tokens, 4 s, one CI run completed).
  {
    const res = await s.call('POST', '/v1/inference', {
      model: 'ref-small',
      prompt: 'too slow',
      max_tokens: 400,
    });
    const done = await s.waitFinished(res.body.id, 60_000);
    expect(done.status).toBe('failed');
    expect(done.error.type).toBe('model_timeout');
    expect(done.finish_reason).toBe('timeout');
    expect(done.output.length).toBeGreaterThan(0);
    expect(done.usage.completion_tokens).toBeGreaterThan(10);
    expect(done.usage.completion_tokens).toBeLessThan(400);
    // Only the last attempt's output is kept and charged, once.
    expect(await ledgerRows(res.body.id)).toEqual([
      { total_tokens: done.usage.total_tokens, completion_tokens: done.usage.completion_tokens },
    ]);
    expect(await inFlight()).toEqual({ inFlight: 0, reservedTokens: 0 });
    await expectQuotaMatchesLedger(s);
  }
}, 90_000);

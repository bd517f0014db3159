import { ModelKey, TenantIdKey } from '../../src/shared/search-attributes';
import { startStack, type Stack } from '../support/stack';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.stop();
});

async function modelRequests(): Promise<number> {
  const stats = (await (await fetch(`${s.modelUrl}/_stats`)).json()) as { requests_total: number };
  return stats.requests_total;
}

test('a request submitted over HTTP completes, is in the ledger, and Redis matches the ledger', async () => {
  const res = await s.call('POST', '/v1/inference', {
    model: 'ref-small',
    prompt: 'Hello, GPU! [[stop:5]]',
    max_tokens: 32,
  });
  expect(res.status).toBe(202);
  expect(res.body).toMatchObject({ status: 'queued', model: 'ref-small' });
  expect(res.headers.get('location')).toBe(`/v1/inference/${res.body.id}`);

  const done = await s.waitFinished(res.body.id);
  expect(done.status).toBe('completed');
  expect(done.output.length).toBeGreaterThan(0);
  expect(done.usage.completion_tokens).toBe(5);
  expect(done.usage.total_tokens).toBe(done.usage.prompt_tokens + 5);
  expect(done.attempts).toBe(1);
  expect(done.completed_at).toBeDefined();

  const { rows } = await s.pool.query('SELECT * FROM usage_ledger WHERE request_id = $1', [res.body.id]);
  expect(rows).toHaveLength(1);
  expect(rows[0].total_tokens).toBe(done.usage.total_tokens);

  const quota = (await s.call('GET', '/v1/quota')).body.limits;
  const ledger = await s.ledgerTotals();
  expect(quota.tokens_per_day.used).toBe(ledger.tokens);
  expect(quota.tokens_per_month.used).toBe(ledger.tokens);
  expect(quota.requests_per_day.used).toBe(ledger.requests);
  expect(quota.tokens_per_day.reserved).toBe(0);
  expect(quota.max_in_flight.reserved).toBe(0);

  const desc = await s.client.workflow.getHandle(res.body.id).describe();
  expect(desc.typedSearchAttributes.get(TenantIdKey)).toBe(s.tenantId);
  expect(desc.typedSearchAttributes.get(ModelKey)).toBe('ref-small');
});

test('chat messages complete too', async () => {
  const res = await s.call('POST', '/v1/inference', {
    model: 'ref-small',
    messages: [{ role: 'user', content: 'Say hi [[stop:3]]' }],
  });
  expect(res.status).toBe(202);
  const done = await s.waitFinished(res.body.id);
  expect(done).toMatchObject({ status: 'completed', usage: { completion_tokens: 3 } });
});

test('missing or wrong API key gets 401', async () => {
  const none = await s.call('POST', '/v1/inference', { model: 'ref-small', prompt: 'x' }, null);
  expect(none.status).toBe(401);
  expect(none.body.error.type).toBe('authentication_error');
  const wrong = await s.call('GET', '/v1/quota', undefined, 'sk-wrong-key');
  expect(wrong.status).toBe(401);
});

test("another tenant's request id is 404", async () => {
  const res = await s.call('POST', '/v1/inference', { model: 'ref-small', prompt: 'mine [[stop:1]]' });
  await s.tenants.ensure({ id: `${s.tenantId}-other`, name: 'other', tier: 'free' });
  await s.tenants.addApiKey(`${s.tenantId}-other`, `${s.apiKey}-other`);
  const other = await s.call('GET', `/v1/inference/${res.body.id}`, undefined, `${s.apiKey}-other`);
  expect(other.status).toBe(404);
  expect(other.body.error).toMatchObject({ type: 'not_found_error', param: 'id' });
  await s.waitFinished(res.body.id);
});

test.each([
  [{ prompt: 'x' }, 'model'],
  [{ model: 'ref-small' }, 'prompt'],
  [{ model: 'ref-small', prompt: 'x', max_tokens: -1 }, 'max_tokens'],
  [{ model: 'ref-small', prompt: 'x', temperature: 'hot' }, 'temperature'],
  [{ model: 'ref-small', messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
  [{ model: 'ref-small', prompt: 'x', max_tokens: 5000 }, 'max_tokens'],
])('invalid input %j gets 400 naming %s, and nothing is written', async (body, param) => {
  const before = await s.pool.query('SELECT count(*)::int AS n FROM requests WHERE tenant_id = $1', [
    s.tenantId,
  ]);
  const res = await s.call('POST', '/v1/inference', body);
  expect(res.status).toBe(400);
  expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param });
  expect(typeof res.body.error.message).toBe('string');
  const after = await s.pool.query('SELECT count(*)::int AS n FROM requests WHERE tenant_id = $1', [
    s.tenantId,
  ]);
  expect(after.rows[0].n).toBe(before.rows[0].n);
});

test('an unknown model is 404 naming the known ones (as OpenAI and vLLM answer), and nothing is written', async () => {
  const before = await s.pool.query('SELECT count(*)::int AS n FROM requests WHERE tenant_id = $1', [
    s.tenantId,
  ]);
  const res = await s.call('POST', '/v1/inference', { model: 'nope', prompt: 'x' });
  expect(res.status).toBe(404);
  expect(res.body.error).toMatchObject({ type: 'not_found_error', param: 'model' });
  expect(res.body.error.message).toMatch(/known models: ref-small/);
  const after = await s.pool.query('SELECT count(*)::int AS n FROM requests WHERE tenant_id = $1', [
    s.tenantId,
  ]);
  expect(after.rows[0].n).toBe(before.rows[0].n);
});

test('malformed JSON gets 400', async () => {
  const res = await s.call('POST', '/v1/inference', '{"model":');
  expect(res.status).toBe(400);
  expect(res.body.error.type).toBe('invalid_request_error');
});

test('over quota gets 429 at submit and the model is never called', async () => {
  const used = (await s.call('GET', '/v1/quota')).body.limits.tokens_per_day;
  await s.setLimits({ tokens_per_day: used.used + used.reserved + 10 });
  const calls = await modelRequests();
  const res = await s.call('POST', '/v1/inference', {
    model: 'ref-small',
    prompt: 'too big',
    max_tokens: 100,
  });
  expect(res.status).toBe(429);
  expect(res.body.error).toMatchObject({ type: 'quota_exceeded', param: 'tokens_per_day' });
  expect(res.headers.get('retry-after')).toBeTruthy();
  expect(res.headers.get('x-ratelimit-limit')).toBe(String(used.used + used.reserved + 10));
  await new Promise((r) => setTimeout(r, 300));
  expect(await modelRequests()).toBe(calls);
  await s.setLimits({ tokens_per_day: null });
});

test('healthz and readyz', async () => {
  expect((await s.call('GET', '/healthz', undefined, null)).status).toBe(200);
  const ready = await s.call('GET', '/readyz', undefined, null);
  expect(ready.status).toBe(200);
  expect(ready.body.checks).toEqual({
    temporal: { status: 'ok' },
    postgres: { status: 'ok' },
    redis: { status: 'ok' },
  });
});

test('admin limits: token required, bad values rejected naming the field, unknown tenant 404', async () => {
  const path = `/admin/tenants/${s.tenantId}/limits`;
  expect((await s.call('PUT', path, { tokens_per_day: 5 }, null)).status).toBe(401);
  expect((await s.call('PUT', path, { tokens_per_day: 5 }, 'wrong-admin-token')).status).toBe(401);
  for (const [body, param] of [
    [{ tokens_per_day: -1 }, 'tokens_per_day'],
    [{ max_in_flight: 1.5 }, 'max_in_flight'],
    [{ requests_per_minute: '10' }, 'requests_per_minute'],
    [{ tokens_per_year: 10 }, undefined],
    [{}, undefined],
  ] as const) {
    const res = await s.call('PUT', path, body, s.cfg.ADMIN_TOKEN);
    expect(res.status).toBe(400);
    expect(res.body.error.type).toBe('invalid_request_error');
    if (param) expect(res.body.error.param).toBe(param);
  }
  expect(
    (await s.call('PUT', '/admin/tenants/nobody-here/limits', { tokens_per_day: 5 }, s.cfg.ADMIN_TOKEN))
      .status,
  ).toBe(404);
  const ok = await s.call('PUT', path, { max_in_flight: 7 }, s.cfg.ADMIN_TOKEN);
  expect(ok.body.limits.max_in_flight).toBe(7);
  expect((await s.call('GET', '/v1/quota')).body.limits.max_in_flight.limit).toBe(7);
  await s.setLimits({ max_in_flight: null });
  expect((await s.call('GET', '/v1/quota')).body.limits.max_in_flight.limit).toBe(64);
});

test('GET /v1/models lists the registry', async () => {
  const res = await s.call('GET', '/v1/models');
  expect(res.body).toEqual({
    object: 'list',
    data: [
      {
        id: 'ref-small',
        object: 'model',
        created: expect.any(Number),
        owned_by: 'durable-inference',
        context_length: 4096,
        protocol: 'openai',
      },
    ],
  });
});

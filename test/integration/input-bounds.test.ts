import { randomBytes } from 'node:crypto';
import { inputMetrics } from '../../src/inference/input-metrics';
import { PG_INT4_MAX } from '../../src/tenants/limits';
import { startStack, type Stack } from '../support/stack';

/**
 * Issue 7 items 4 and 6: nothing a tenant sends may block others. A long unbroken prompt used to be
 * tokenized (quadratically, before the quota check) on the event loop; oversized bodies, bad JSON
 * and admin limits beyond the column types came back as 400s or 500s. Against the real stack.
 */
let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.stop();
});

const MODEL = 'ref-small'; // context_length 4096: prompts over 4096 × 16 = 65536 characters are refused unread
const MAX_BODY = 1048576;

/** Another tenant of the same stack, with its own key. */
async function newTenant(tier = 'standard'): Promise<{ id: string; key: string }> {
  const id = `t-${randomBytes(5).toString('hex')}`;
  const key = `sk-test-${id}-${randomBytes(8).toString('hex')}`;
  await s.tenants.ensure({ id, name: 'input bounds', tier });
  await s.tenants.addApiKey(id, key);
  return { id, key };
}

/** POST a raw (already serialized) body; never parses the reply as anything but JSON. */
async function post(path: string, body: string, key: string | null): Promise<{ status: number; body: any }> {
  const res = await fetch(`${s.apiUrl}${path}`, {
    method: path.startsWith('/admin') ? 'PUT' : 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function requestRows(tenantId: string): Promise<number> {
  const { rows } = await s.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM requests WHERE tenant_id = $1',
    [tenantId],
  );
  return rows[0]!.n;
}

/** What the tenant has reserved in Redis right now (in-flight requests and tokens). */
async function reserved(key: string): Promise<{ inFlight: number; tokens: number; requests: number }> {
  const l = (await s.call('GET', '/v1/quota', undefined, key)).body.limits;
  return {
    inFlight: l.max_in_flight.reserved,
    tokens: l.tokens_per_day.reserved,
    requests: l.requests_per_day.reserved,
  };
}

/** Polls GET /v1/inference/:id as its tenant until the request is terminal. */
async function waitFinished(id: string, key: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await s.call('GET', `/v1/inference/${id}`, undefined, key);
    if (['completed', 'failed', 'cancelled', 'rejected'].includes(res.body?.status)) return;
    if (Date.now() > deadline) throw new Error(`request ${id} still ${res.body?.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const tokenizedChars = async (): Promise<number> =>
  (await inputMetrics(s.metrics.registry).tokenizedChars.get()).values.reduce((a, v) => a + v.value, 0);

const percentile = (xs: number[], p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};

const timed = async <T>(f: () => Promise<T>): Promise<[number, T]> => {
  const started = performance.now();
  const r = await f();
  return [performance.now() - started, r];
};

/** Polls /healthz and submits small requests until `stop()`; returns the latencies. */
function victim(key: string): { stop: () => Promise<{ health: number[]; submit: number[]; ids: string[] }> } {
  const health: number[] = [];
  const submit: number[] = [];
  const ids: string[] = [];
  let running = true;
  const small = JSON.stringify({ model: MODEL, prompt: 'small request [[stop:2]]', max_tokens: 4 });
  const healthLoop = (async () => {
    while (running) {
      const [ms, res] = await timed(() => fetch(`${s.apiUrl}/healthz`));
      await res.text();
      expect(res.status).toBe(200);
      health.push(ms);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const submitLoop = (async () => {
    while (running) {
      const [ms, res] = await timed(() => post('/v1/inference', small, key));
      expect(res.status).toBe(202);
      ids.push(res.body.id);
      submit.push(ms);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await Promise.all([healthLoop, submitLoop]);
      return { health, submit, ids };
    },
  };
}

const report = (label: string, xs: number[]): string =>
  `${label}: n=${xs.length} p50=${percentile(xs, 50).toFixed(1)} p99=${percentile(xs, 99).toFixed(1)} max=${Math.max(...xs).toFixed(1)} ms`;

test('(a) long unbroken prompts and ~1 MB bodies from one tenant do not slow /healthz or other tenants', async () => {
  const attacker = await newTenant();
  const other = await newTenant();

  // Baseline: the same victim traffic with nobody attacking.
  const calm = victim(other.key);
  await new Promise((r) => setTimeout(r, 1500));
  const base = await calm.stop();

  const word200k = JSON.stringify({ model: MODEL, prompt: 'a'.repeat(200_000), max_tokens: 8 });
  const word1m = JSON.stringify({ model: MODEL, prompt: 'b'.repeat(1_000_000), max_tokens: 8 });
  expect(word1m.length).toBeLessThan(MAX_BODY);
  const overBody = JSON.stringify({ model: MODEL, prompt: 'c'.repeat(MAX_BODY + 10) });
  // Under the character bound, so they are tokenized: random letters are ~1.5 characters a token
  // (counting stops once over the context), repeated ones 8 a token (fits: accepted and run).
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const randomWord = Array.from({ length: 64_000 }, () => letters[Math.floor(Math.random() * 26)]).join('');
  const underBoundRefused = JSON.stringify({ model: MODEL, prompt: randomWord, max_tokens: 8 });
  const underBoundAccepted = JSON.stringify({
    model: MODEL,
    prompt: `${'a'.repeat(31_000)} [[stop:2]]`,
    max_tokens: 8,
  });
  const charsBefore = await tokenizedChars();

  const during = victim(other.key);
  const outcomes: { kind: string; status: number; body: any; ms: number }[] = [];
  const attack = async (kind: string, body: string, times: number): Promise<void> => {
    for (let i = 0; i < times; i++) {
      const [ms, res] = await timed(() => post('/v1/inference', body, attacker.key));
      outcomes.push({ kind, ...res, ms });
    }
  };
  await Promise.all([
    attack('200 kB word', word200k, 10),
    attack('1 MB word', word1m, 5),
    attack('body over limit', overBody, 5),
    attack('64 kB random word', underBoundRefused, 10),
    attack('31 kB word (fits)', underBoundAccepted, 5),
  ]);
  const got = await during.stop();

  console.log(
    [
      'input-bounds benchmark (in-process stack, loaded shared 2-core machine):',
      report('  baseline /healthz', base.health),
      report('  baseline small submit', base.submit),
      report('  during attack /healthz', got.health),
      report('  during attack small submit', got.submit),
      ...['200 kB word', '1 MB word', 'body over limit', '64 kB random word', '31 kB word (fits)'].map((k) =>
        report(
          `  attacker ${k}`,
          outcomes.filter((o) => o.kind === k).map((o) => o.ms),
        ),
      ),
      `  prompt characters tokenized at submit during the attack: ${(await tokenizedChars()) - charsBefore}`,
    ].join('\n'),
  );

  for (const o of outcomes.filter((x) => x.kind === '200 kB word' || x.kind === '1 MB word')) {
    expect(o.status).toBe(400);
    expect(o.body.error).toMatchObject({ type: 'invalid_request_error', param: 'prompt' });
    expect(o.body.error.message).toMatch(/at most 65536/);
  }
  for (const o of outcomes.filter((x) => x.kind === 'body over limit')) {
    expect(o.status).toBe(413);
    expect(o.body).toEqual({
      error: { type: 'request_too_large', message: expect.stringMatching(/1048576 bytes/), param: 'body' },
    });
  }
  for (const o of outcomes.filter((x) => x.kind === '64 kB random word')) {
    expect(o.status).toBe(400);
    // Prompt + max_tokens over the context: the param names max_tokens, the one the client chose.
    expect(o.body.error).toMatchObject({ type: 'invalid_request_error', param: 'max_tokens' });
    expect(o.body.error.message).toMatch(/context length/);
  }
  const accepted = outcomes.filter((x) => x.kind === '31 kB word (fits)');
  for (const o of accepted) expect(o.status).toBe(202);

  // Other clients kept being served. The bounds are loose on purpose: CI runs another test file on
  // the same two cores, so latency here measures the machine as much as this code. The old code held
  // the event loop for 28 s on a 200 kB word; the per-call block itself (a few ms) is asserted in
  // test/unit/tokenizer-bounds.test.ts, and the figures above are printed for the record.
  expect(got.health.length).toBeGreaterThan(10);
  expect(percentile(got.health, 99)).toBeLessThan(1500 + 3 * percentile(base.health, 99));
  expect(percentile(got.submit, 99)).toBeLessThan(3000 + 2 * percentile(base.submit, 99));

  // Refused requests left nothing behind: only the accepted ones have rows, and once they finished
  // nothing is reserved.
  await Promise.all(accepted.map((o) => waitFinished(o.body.id, attacker.key)));
  await Promise.all([...base.ids, ...got.ids].map((id) => waitFinished(id, other.key)));
  expect(await requestRows(attacker.id)).toBe(accepted.length);
  expect(await reserved(attacker.key)).toEqual({ inFlight: 0, tokens: 0, requests: 0 });
});

test('(b) a tenant out of quota sending a big prompt is refused 429 before its prompt is tokenized', async () => {
  const broke = await newTenant();
  // Initialise its quota state in Redis, then take its token budget away.
  expect((await s.call('GET', '/v1/quota', undefined, broke.key)).status).toBe(200);
  const set = await s.call(
    'PUT',
    `/admin/tenants/${broke.id}/limits`,
    { tokens_per_day: 0 },
    s.cfg.ADMIN_TOKEN,
  );
  expect(set.status).toBe(200);

  const before = await tokenizedChars();
  const big = JSON.stringify({ model: MODEL, prompt: 'z'.repeat(60_000), max_tokens: 8 });
  const [ms, res] = await timed(() => post('/v1/inference', big, broke.key));
  expect(res.status).toBe(429);
  expect(res.body.error).toMatchObject({ type: 'quota_exceeded', param: 'tokens_per_day' });
  // The tokenizer never saw it.
  expect((await tokenizedChars()) - before).toBe(0);
  console.log(`quota-0 tenant, 60 kB prompt: 429 in ${ms.toFixed(1)} ms, 0 characters tokenized`);

  expect(await requestRows(broke.id)).toBe(0);
  expect(await reserved(broke.key)).toEqual({ inFlight: 0, tokens: 0, requests: 0 });
});

test('(c) admin limits beyond the column types are a 400 naming the field, and nothing is written', async () => {
  const t = await newTenant();
  const path = `/admin/tenants/${t.id}/limits`;
  const put = (body: unknown) => s.call('PUT', path, body, s.cfg.ADMIN_TOKEN);
  const before = (await s.call('GET', path, undefined, s.cfg.ADMIN_TOKEN)).body;
  expect((await s.call('GET', '/v1/quota', undefined, t.key)).status).toBe(200); // Redis initialised

  for (const [field, value] of [
    ['requests_per_minute', PG_INT4_MAX + 1],
    ['requests_per_day', 2 ** 40],
    ['max_in_flight', 2 ** 31],
    ['tokens_per_day', 2 ** 53],
    ['tokens_per_month', 1e300],
    ['requests_per_minute', -1],
    ['max_in_flight', 1.5],
  ] as const) {
    // A valid field next to the bad one: the whole update is refused, not half applied.
    const res = await put({ tokens_per_month: 12345, [field]: value });
    expect({ field, status: res.status }).toEqual({ field, status: 400 });
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param: field });
  }
  expect((await s.call('GET', path, undefined, s.cfg.ADMIN_TOKEN)).body).toEqual(before);
  const { rows } = await s.pool.query('SELECT 1 FROM tenant_limits WHERE tenant_id = $1', [t.id]);
  expect(rows).toHaveLength(0);
  const quota = (await s.call('GET', '/v1/quota', undefined, t.key)).body.limits;
  expect(quota.tokens_per_month.limit).toBe(before.limits.tokens_per_month);

  // The largest values the columns hold are accepted, reach Redis, and can be cleared again.
  const ok = await put({ requests_per_minute: PG_INT4_MAX, tokens_per_day: Number.MAX_SAFE_INTEGER });
  expect(ok.status).toBe(200);
  expect(ok.body.limits).toMatchObject({
    requests_per_minute: PG_INT4_MAX,
    tokens_per_day: Number.MAX_SAFE_INTEGER,
  });
  const live = (await s.call('GET', '/v1/quota', undefined, t.key)).body.limits;
  expect(live.requests_per_minute.limit).toBe(PG_INT4_MAX);
  expect(live.tokens_per_day.limit).toBe(Number.MAX_SAFE_INTEGER);
  expect((await put({ requests_per_minute: null, tokens_per_day: null })).body.limits).toEqual(before.limits);
});

test('(d) a body over the limit is a 413 with the stable error shape on every route; bad JSON a 400', async () => {
  const t = await newTenant();
  const tooBig = JSON.stringify({ model: MODEL, prompt: 'x'.repeat(MAX_BODY) });
  const shape = {
    error: {
      type: 'request_too_large',
      message: expect.stringMatching(/over the limit of 1048576 bytes/),
      param: 'body',
    },
  };
  for (const [path, key] of [
    ['/v1/inference', t.key],
    ['/v1/no-such-route', t.key],
    [`/admin/tenants/${t.id}/limits`, s.cfg.ADMIN_TOKEN],
  ] as const) {
    const res = await post(path, tooBig, key);
    expect({ path, status: res.status, body: res.body }).toEqual({ path, status: 413, body: shape });
  }
  // Unauthenticated: refused before the body is read.
  expect((await post('/v1/inference', tooBig, null)).status).toBe(401);
  expect((await post(`/admin/tenants/${t.id}/limits`, tooBig, 'wrong')).status).toBe(401);

  const bad = await post('/v1/inference', '{"model": "ref-small", "prompt": ', t.key);
  expect(bad.status).toBe(400);
  expect(bad.body.error).toMatchObject({ type: 'invalid_request_error', param: 'body' });
  expect(bad.body.error.message).toMatch(/not valid JSON/);
  const badAdmin = await post(`/admin/tenants/${t.id}/limits`, '{"max_in_flight": 1,}', s.cfg.ADMIN_TOKEN);
  expect(badAdmin.status).toBe(400);
  expect(badAdmin.body.error).toMatchObject({ type: 'invalid_request_error', param: 'body' });

  // (e) none of it was written or reserved.
  expect(await requestRows(t.id)).toBe(0);
  expect(await reserved(t.key)).toEqual({ inFlight: 0, tokens: 0, requests: 0 });
  const { rows } = await s.pool.query('SELECT 1 FROM tenant_limits WHERE tenant_id = $1', [t.id]);
  expect(rows).toHaveLength(0);
});

import { randomBytes } from 'node:crypto';
import { IdempotencyStore } from '../../src/idempotency/idempotency-store';
import { bodyHash } from '../../src/idempotency/canonical-hash';
import { expectChargedOnce, startStack, type Stack } from '../support/stack';
import { prepared, submitBody, submitServiceOn } from '../support/submit-service';

/**
 * Idempotency-Key on the POSTs that create requests: a retried submit (concurrent, sequential, or
 * after the first one's response was lost) is one request, one reservation and one ledger row.
 */
let s: Stack;
beforeAll(async () => {
  s = await startStack({ env: { IDEMPOTENCY_PENDING_STALE_S: '1' } });
});
afterAll(async () => {
  await s?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const newKey = (): string => `key-${randomBytes(6).toString('hex')}`;

async function post(path: string, body: unknown, key: string, signal?: AbortSignal) {
  const res = await fetch(`${s.apiUrl}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${s.apiKey}`,
      'idempotency-key': key,
    },
    body: JSON.stringify(body),
    signal,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

async function requestsWithKey(key: string): Promise<string[]> {
  const { rows } = await s.pool.query<{ request_id: string }>(
    'SELECT request_id FROM idempotency_keys WHERE tenant_id = $1 AND idem_key = $2',
    [s.tenantId, key],
  );
  return rows.map((r) => r.request_id);
}

async function tenantRequests(): Promise<number> {
  const { rows } = await s.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM requests WHERE tenant_id = $1',
    [s.tenantId],
  );
  return rows[0]!.n;
}

const body = (prompt: string) => ({ model: 'ref-small', prompt, max_tokens: 8 });

/**
 * A first attempt through the service layer, as the API runs it, up to binding its key 'pending'
 * (`bound`: whether the key was bound); what comes next is the test's.
 */
async function pendingAttempt(prompt: string) {
  const submit = submitServiceOn(s);
  const key = newKey();
  const input = await prepared(s, submit, prompt);
  const bound = await new IdempotencyStore(s.pool, s.cfg.IDEMPOTENCY_TTL_S, s.atRest).insertPending({
    tenantId: s.tenantId,
    key,
    endpoint: 'POST /v1/inference',
    bodyHash: bodyHash('POST /v1/inference', submitBody(prompt)),
    input,
  });
  return { submit, key, input, bound };
}

test('same key, same body, sequentially: the same request and the same 202, replayed', async () => {
  const before = await tenantRequests();
  const key = newKey();
  const first = await post('/v1/inference', body('seq'), key);
  expect(first.status).toBe(202);
  expect(first.headers.get('idempotent-replayed')).toBeNull();
  // Key order does not matter: the body is compared by a canonical hash of its parsed form.
  const again = await post('/v1/inference', { max_tokens: 8, prompt: 'seq', model: 'ref-small' }, key);
  expect(again.status).toBe(202);
  expect(again.headers.get('idempotent-replayed')).toBe('true');
  expect(again.body).toEqual(first.body);
  expect(again.headers.get('location')).toBe(`/v1/inference/${first.body.id}`);
  await s.waitFinished(first.body.id);
  const third = await post('/v1/inference', body('seq'), key);
  expect(third.body).toEqual(first.body);
  expect(await tenantRequests()).toBe(before + 1);
  await expectChargedOnce(s, first.body.id);
});

test('same key, different body: 422 naming Idempotency-Key, nothing created', async () => {
  const before = await tenantRequests();
  const key = newKey();
  const first = await post('/v1/inference', body('one'), key);
  expect(first.status).toBe(202);
  const other = await post('/v1/inference', body('two'), key);
  expect(other.status).toBe(422);
  expect(other.body.error).toMatchObject({ type: 'idempotency_key_reused', param: 'Idempotency-Key' });
  // A key is bound to its endpoint too.
  const chat = await post(
    '/v1/chat/completions',
    { model: 'ref-small', messages: [{ role: 'user', content: 'one' }] },
    key,
  );
  expect(chat.status).toBe(422);
  await s.waitFinished(first.body.id);
  expect(await tenantRequests()).toBe(before + 1);
});

test('same key sent concurrently: one request; the others get it replayed or 409 while it is accepted', async () => {
  const key = newKey();
  const results = await Promise.all(
    Array.from({ length: 6 }, () => post('/v1/inference', body('conc'), key)),
  );
  const statuses = results.map((r) => r.status).sort();
  expect(statuses.every((st) => st === 202 || st === 409)).toBe(true);
  const ids = new Set(results.filter((r) => r.status === 202).map((r) => r.body.id as string));
  expect(ids.size).toBe(1);
  for (const r of results.filter((x) => x.status === 409)) {
    expect(r.body.error).toMatchObject({ type: 'conflict_error', param: 'Idempotency-Key' });
    expect(r.headers.get('retry-after')).toBe('1');
  }
  const [id] = [...ids];
  expect(await requestsWithKey(key)).toEqual([id]);
  await s.waitFinished(id!);
  await expectChargedOnce(s, id!);
});

test('a submit that died after starting its workflow (response lost): the retry gets the same request, charged once', async () => {
  // The first attempt, through the service layer: key bound ('pending'), quota reserved, workflow
  // started, and then the API process "dies" before recording the key as started or answering.
  const { submit, key, input, bound } = await pendingAttempt('lost response');
  expect(bound).toBe(true);
  await submit.submit(input);
  expect(await s.quota.reservationState(s.tenantId, input.requestId)).toBeDefined();

  // The client retries at once: the first attempt may still be accepting, so 409.
  const early = await post('/v1/inference', body('lost response'), key);
  expect(early.status).toBe(409);
  // After IDEMPOTENCY_PENDING_STALE_S the retry re-drives it: the workflow exists, so no new start.
  await sleep(1100);
  const retry = await post('/v1/inference', body('lost response'), key);
  expect(retry.status).toBe(202);
  expect(retry.headers.get('idempotent-replayed')).toBe('true');
  expect(retry.body.id).toBe(input.requestId);
  await s.waitFinished(input.requestId);
  const { rows } = await s.pool.query('SELECT id FROM requests WHERE id = $1', [input.requestId]);
  expect(rows).toHaveLength(1);
  await expectChargedOnce(s, input.requestId);
});

test('a submit that reserved but died before starting: the retry starts that same request, one reservation', async () => {
  const { key, input } = await pendingAttempt('died before start');
  await s.quota.reserve(
    { requestId: input.requestId, tenantId: s.tenantId, acceptedAt: new Date(input.acceptedAt) },
    input.estimatedTokens,
  );
  const inFlight = async (): Promise<number> =>
    (await s.call('GET', '/v1/quota')).body.limits.max_in_flight.reserved as number;
  expect(await inFlight()).toBe(1);
  await sleep(1100);
  const retry = await post('/v1/inference', body('died before start'), key);
  expect(retry.status).toBe(202);
  expect(retry.body.id).toBe(input.requestId);
  // Re-reserving the same request id is a no-op: still one reservation.
  expect(await inFlight()).toBeLessThanOrEqual(1);
  await s.waitFinished(input.requestId);
  await expectChargedOnce(s, input.requestId);
});

test('a client that gives up mid-submit and retries: one request', async () => {
  const before = await tenantRequests();
  const key = newKey();
  await expect(post('/v1/inference', body('aborted'), key, AbortSignal.timeout(2))).rejects.toThrow();
  let retry = await post('/v1/inference', body('aborted'), key);
  for (let i = 0; retry.status === 409 && i < 40; i++) {
    await sleep(100);
    retry = await post('/v1/inference', body('aborted'), key);
  }
  expect(retry.status).toBe(202);
  await s.waitFinished(retry.body.id);
  expect(await requestsWithKey(key)).toEqual([retry.body.id]);
  expect(await tenantRequests()).toBe(before + 1);
  await expectChargedOnce(s, retry.body.id);
});

test('OpenAI endpoints: the same key twice is the same completion id, one request', async () => {
  const before = await tenantRequests();
  const key = newKey();
  const req = { model: 'ref-small', messages: [{ role: 'user', content: 'openai idem' }], max_tokens: 8 };
  const first = await post('/v1/chat/completions', req, key);
  expect(first.status).toBe(200);
  const again = await post('/v1/chat/completions', req, key);
  expect(again.status).toBe(200);
  expect(again.headers.get('idempotent-replayed')).toBe('true');
  expect(again.body).toEqual(first.body);
  expect(again.headers.get('x-request-id')).toBe(first.headers.get('x-request-id'));
  const text = await post('/v1/completions', { model: 'ref-small', prompt: 'x', max_tokens: 4 }, key);
  expect(text.status).toBe(422);
  const key2 = newKey();
  const c1 = await post('/v1/completions', { model: 'ref-small', prompt: 'x', max_tokens: 4 }, key2);
  const c2 = await post('/v1/completions', { model: 'ref-small', prompt: 'x', max_tokens: 4 }, key2);
  expect(c2.body.id).toBe(c1.body.id);
  expect(await tenantRequests()).toBe(before + 2);
  await expectChargedOnce(s, first.headers.get('x-request-id')!);
});

test('a malformed key is a 400 naming Idempotency-Key; expired keys are swept', async () => {
  const bad = await post('/v1/inference', body('bad key'), 'x'.repeat(300));
  expect(bad.status).toBe(400);
  expect(bad.body.error.param).toBe('Idempotency-Key');
  const key = newKey();
  const first = await post('/v1/inference', body('expiring'), key);
  await s.pool.query(
    `UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE tenant_id = $1 AND idem_key = $2`,
    [s.tenantId, key],
  );
  expect(
    await new IdempotencyStore(s.pool, s.cfg.IDEMPOTENCY_TTL_S, s.atRest).deleteExpired(),
  ).toBeGreaterThanOrEqual(1);
  expect(await requestsWithKey(key)).toEqual([]);
  await s.waitFinished(first.body.id);
});

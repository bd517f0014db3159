import { recordHistories } from '../support/record-histories';
import { startStack, type Stack } from '../support/stack';

/**
 * Batches on the real stack: items become child inference workflows (the same quota rules), the
 * batch workflow pages items from PostgreSQL and continues as new, cancel reaches running children.
 * RECORD_BATCH_HISTORIES=1 writes the batch workflows' histories to test/replay/histories/batch-v1/.
 */
let s: Stack;
const recorded: Record<string, string> = {};
beforeAll(async () => {
  s = await startStack({
    // API_MAX_BODY_BYTES small: the 1,000-item batch (about 130 kB) is over it, under the batch limit.
    env: {
      BATCH_ITEMS_PER_RUN: '250',
      BATCH_CONCURRENCY: '32',
      API_MAX_BODY_BYTES: '65536',
      BATCH_MAX_BODY_BYTES: '2097152',
    },
  });
  await s.setLimits({
    requests_per_minute: 100_000,
    requests_per_day: 1_000_000,
    tokens_per_day: 100_000_000,
    tokens_per_month: 1_000_000_000,
    max_in_flight: 1000,
  });
});
afterAll(async () => {
  if (process.env.RECORD_BATCH_HISTORIES === '1') await recordHistories(s.client, 'batch-v1', recorded);
  await s?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const item = (i: number, prompt = `batch item ${i} [[stop:2]]`, maxTokens = 4) => ({
  custom_id: `c-${i}`,
  body: { model: 'ref-small', prompt, max_tokens: maxTokens },
});

async function waitBatch(id: string, statuses: string[], timeoutMs = 240_000, key = s.apiKey) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await s.call('GET', `/v1/batches/${id}`, undefined, key);
    expect(res.status).toBe(200);
    if (statuses.includes(res.body.status)) return res.body;
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${JSON.stringify(res.body)}`);
    await sleep(250);
  }
}

async function results(id: string, key = s.apiKey) {
  const res = await fetch(`${s.apiUrl}/v1/batches/${id}/results`, {
    headers: { authorization: `Bearer ${key}` },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/application\/jsonl/);
  const text = await res.text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown> & { custom_id: string; id: string; status: string });
}

test('a 1,000-item batch completes: counts add up, 1,000 result lines, one ledger row each', async () => {
  const started = Date.now();
  const items = Array.from({ length: 1000 }, (_, i) => item(i));
  const res = await s.call('POST', '/v1/batches', items);
  expect(res.status).toBe(202);
  expect(res.body).toMatchObject({ object: 'batch', total: 1000 });
  expect(res.body.id).toMatch(/^batch_[a-f0-9]{32}$/);
  const done = await waitBatch(res.body.id, ['completed']);
  const seconds = (Date.now() - started) / 1000;
  console.log(`1,000-item batch: ${seconds.toFixed(1)} s`);
  expect(done.request_counts).toMatchObject({ total: 1000, completed: 1000, pending: 0, failed: 0 });
  const counts = done.request_counts as Record<string, number>;
  expect(Object.entries(counts).reduce((a, [k, n]) => (k === 'total' ? a : a + n), 0)).toBe(1000);

  const lines = await results(res.body.id);
  expect(lines).toHaveLength(1000);
  expect(lines.map((l) => l.custom_id)).toEqual(items.map((x) => x.custom_id));
  expect(
    lines.every((l) => l.status === 'completed' && l.usage && l.output !== null && l.error === null),
  ).toBe(true);
  const { rows } = await s.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM batch_items i JOIN usage_ledger l ON l.request_id = i.request_id WHERE i.batch_id = $1`,
    [res.body.id],
  );
  expect(Number(rows[0]!.n)).toBe(1000);
  // An item is a request like any other.
  const one = await s.call('GET', `/v1/inference/${lines[0]!.id}`);
  expect(one.body).toMatchObject({ status: 'completed' });
  // Continued as new every 250 items: the batch workflow's history stays bounded.
  const history = await s.client.workflow.getHandle(res.body.id).fetchHistory();
  expect(history.events!.length).toBeLessThan(3000);
  recorded['completed-1000-continued-as-new.json'] = res.body.id;
  const list = await s.call('GET', '/v1/batches?limit=1');
  expect(list.body).toMatchObject({ object: 'list', data: [{ id: res.body.id }] });
}, 300_000);

test('JSONL upload (application/jsonl and application/x-ndjson)', async () => {
  for (const type of ['application/jsonl', 'application/x-ndjson']) {
    const body = [item(1), item(2), item(3)].map((x) => JSON.stringify(x)).join('\n') + '\n';
    const res = await fetch(`${s.apiUrl}/v1/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.apiKey}`, 'content-type': type },
      body,
    });
    expect(res.status).toBe(202);
    const b = (await res.json()) as { id: string };
    await waitBatch(b.id, ['completed'], 60_000);
    expect((await results(b.id)).map((l) => [l.custom_id, l.status])).toEqual([
      ['c-1', 'completed'],
      ['c-2', 'completed'],
      ['c-3', 'completed'],
    ]);
    recorded['completed-jsonl.json'] = b.id;
  }
});

test('an invalid item is a 400 naming items[i].body.field, and nothing is written', async () => {
  const count = async () =>
    Number(
      (
        await s.pool.query<{ n: string }>('SELECT count(*) AS n FROM batches WHERE tenant_id = $1', [
          s.tenantId,
        ])
      ).rows[0]!.n,
    );
  const before = await count();
  const tooMany = [item(0), item(1), item(2), item(3, 'x', 5000)];
  const a = await s.call('POST', '/v1/batches', tooMany);
  expect(a.status).toBe(400);
  expect(a.body.error).toMatchObject({ type: 'invalid_request_error', param: 'items[3].body.max_tokens' });
  const badShape = [item(0), { custom_id: 'c-1', body: { model: 'ref-small', prompt: 'x', temperature: 9 } }];
  const b = await s.call('POST', '/v1/batches', badShape);
  expect(b.status).toBe(400);
  expect(b.body.error.param).toBe('items[1].body.temperature');
  const unknownModel = await s.call('POST', '/v1/batches', [
    { custom_id: 'a', body: { model: 'nope', prompt: 'x' } },
  ]);
  expect(unknownModel.body.error.param).toBe('items[0].body.model');
  const dup = await s.call('POST', '/v1/batches', [item(1), item(1)]);
  expect(dup.body.error.param).toBe('items[1].custom_id');
  const notArray = await s.call('POST', '/v1/batches', { custom_id: 'a' });
  expect(notArray.body.error.param).toBe('body');
  const big = await s.call('POST', '/v1/batches', JSON.stringify([item(0, 'x'.repeat(2_200_000))]));
  expect(big.status).toBe(413);
  expect(await count()).toBe(before);
});

test('a batch under a tenant limit: items over the limit are rejected by their own admit step', async () => {
  const tenantId = `q-${s.tenantId}`.slice(0, 60);
  const key = `sk-q-${s.apiKey}`;
  await s.tenants.ensure({ id: tenantId, name: 'quota tenant', tier: 'standard' });
  await s.tenants.addApiKey(tenantId, key);
  const put = await s.call(
    'PUT',
    `/admin/tenants/${tenantId}/limits`,
    { requests_per_minute: 5 },
    s.cfg.ADMIN_TOKEN,
  );
  expect(put.status).toBe(200);
  const res = await s.call(
    'POST',
    '/v1/batches',
    Array.from({ length: 20 }, (_, i) => item(i)),
    key,
  );
  expect(res.status).toBe(202);
  const done = await waitBatch(res.body.id, ['completed'], 60_000, key);
  expect(done.request_counts.rejected).toBeGreaterThan(0);
  expect(done.request_counts.completed).toBeLessThanOrEqual(5);
  expect(done.request_counts.completed + done.request_counts.rejected).toBe(20);
  const lines = await results(res.body.id, key);
  const rejected = lines.find((l) => l.status === 'rejected')!;
  expect(rejected.error).toMatchObject({ type: 'quota_exceeded' });
  const limits = (await s.call('GET', '/v1/quota', undefined, key)).body.limits;
  expect(limits.max_in_flight.reserved).toBe(0);
  recorded['completed-some-rejected.json'] = res.body.id;
});

test('cancel mid-batch: running children cancelled, the rest marked cancelled, quota reserved back to 0', async () => {
  // ~100 ms per item (100 tokens at 1 ms): 400 items at 32 at once take over a second.
  const items = Array.from({ length: 400 }, (_, i) => item(i, `slow item ${i} [[stop:100]]`, 120));
  const res = await s.call('POST', '/v1/batches', items);
  expect(res.status).toBe(202);
  for (;;) {
    const b = (await s.call('GET', `/v1/batches/${res.body.id}`)).body;
    if (b.request_counts.completed >= 10) break;
    await sleep(50);
  }
  const cancel = await s.call('POST', `/v1/batches/${res.body.id}/cancel`);
  expect(cancel.status).toBe(202);
  expect(cancel.body.status).toBe('cancelling');
  const done = await waitBatch(res.body.id, ['cancelled'], 60_000);
  const c = done.request_counts;
  expect(c.pending + c.queued + c.running).toBe(0);
  expect(c.cancelled).toBeGreaterThan(0);
  expect(c.completed).toBeLessThan(400);
  expect(c.completed + c.cancelled + c.failed + c.rejected).toBe(400);
  const limits = (await s.call('GET', '/v1/quota')).body.limits;
  expect(limits.max_in_flight.reserved).toBe(0);
  expect(limits.tokens_per_day.reserved).toBe(0);
  const again = await s.call('POST', `/v1/batches/${res.body.id}/cancel`);
  expect(again.status).toBe(409);
  recorded['cancelled-mid-batch.json'] = res.body.id;
}, 120_000);

test('the OpenAPI document and /docs are served by the API itself', async () => {
  const doc = await s.call('GET', '/openapi.json', undefined, null);
  expect(doc.status).toBe(200);
  expect(doc.body.openapi).toBe('3.1.0');
  expect(Object.keys(doc.body.paths)).toEqual(
    expect.arrayContaining([
      '/v1/batches',
      '/v1/batches/{id}',
      '/v1/batches/{id}/results',
      '/v1/batches/{id}/cancel',
    ]),
  );
  const page = await fetch(`${s.apiUrl}/docs`);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toMatch(/<div id="swagger-ui">/);
  const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  expect(refs.length).toBeGreaterThanOrEqual(4);
  for (const ref of refs) {
    expect(ref).toMatch(/^\/docs\//);
    const asset = await fetch(`${s.apiUrl}${ref}`);
    expect({ ref, status: asset.status }).toEqual({ ref, status: 200 });
  }
  const init = await (await fetch(`${s.apiUrl}/docs/init.js`)).text();
  expect(init).not.toMatch(/https?:\/\//);
  expect((await fetch(`${s.apiUrl}/docs/package.json`)).status).toBe(404);
});

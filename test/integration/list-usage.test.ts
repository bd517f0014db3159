import { listQuery } from '../../src/requests/requests-repo';
import { startStack, type Stack } from '../support/stack';

/**
 * GET /v1/inference (keyset pages, filters, own tenant only, served by an index) and GET /v1/usage
 * + GET /admin/usage (exact ledger sums, JSON and CSV, bounded ranges).
 */
let s: Stack;
let otherKey: string;
let otherTenant: string;
const ids: string[] = [];
let otherId: string;

const admin = (method: string, path: string, body?: unknown) => s.call(method, path, body, s.cfg.ADMIN_TOKEN);

beforeAll(async () => {
  s = await startStack();
  otherTenant = `${s.tenantId}-other`;
  expect((await admin('POST', '/admin/tenants', { id: otherTenant, name: 'other' })).status).toBe(201);
  otherKey = (await admin('POST', `/admin/tenants/${otherTenant}/keys`, {})).body.secret;
  otherId = await s.submit('the other tenant', 5, otherKey);
  // A burst, sequential so created_at orders them; token counts differ per request.
  for (let i = 0; i < 7; i++) ids.push(await s.submit(`request number ${i} ${'x '.repeat(i * 3)}`, 3 + i));
  for (const id of ids) await s.waitFinished(id);
  await s.waitFinished(otherId).catch(() => undefined);
});
afterAll(async () => {
  await s?.stop();
});

const get = async (path: string, accept?: string) => {
  const res = await fetch(`${s.apiUrl}${path}`, {
    headers: { authorization: `Bearer ${s.apiKey}`, ...(accept ? { accept } : {}) },
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    body: accept === 'text/csv' ? undefined : JSON.parse(text),
  };
};

test('pages of 3 list every request once, newest first, and never another tenant’s', async () => {
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res = await s.call('GET', `/v1/inference?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status).toBe(200);
    expect(res.body.object).toBe('list');
    expect(res.body.data.length).toBeLessThanOrEqual(3);
    seen.push(...(res.body.data as any[]).map((r: { id: string }) => r.id));
    cursor = res.body.next_cursor;
    expect(res.body.has_more).toBe(cursor !== null);
    pages++;
  } while (cursor);
  expect(pages).toBe(3);
  expect(seen).toEqual([...ids].reverse());
  expect(seen).not.toContain(otherId);
  // The other tenant sees only its own.
  const other = await s.call('GET', '/v1/inference', undefined, otherKey);
  expect((other.body.data as any[]).map((r: { id: string }) => r.id)).toEqual([otherId]);
});

test('filters: status, model, created_after, and a cursor carries through a filtered list', async () => {
  const all = (await s.call('GET', '/v1/inference?status=completed&model=ref-small&limit=100')).body;
  expect((all.data as any[]).map((r: { id: string }) => r.id)).toEqual([...ids].reverse());
  expect(
    (all.data as any[]).every((r: { status: string; usage: unknown }) => r.status === 'completed' && r.usage),
  ).toBe(true);
  expect((await s.call('GET', '/v1/inference?status=failed')).body.data).toEqual([]);
  expect((await s.call('GET', '/v1/inference?model=ref-large')).body.data).toEqual([]);

  const third = all.data[4]; // ids[2]
  const after = await s.call(
    'GET',
    `/v1/inference?created_after=${encodeURIComponent(third.created_at)}&status=completed&limit=2`,
  );
  expect((after.body.data as any[]).map((r: { id: string }) => r.id)).toEqual([ids[6], ids[5]]);
  const rest = await s.call(
    'GET',
    `/v1/inference?created_after=${encodeURIComponent(third.created_at)}&status=completed&limit=2&cursor=${after.body.next_cursor}`,
  );
  expect((rest.body.data as any[]).map((r: { id: string }) => r.id)).toEqual([ids[4], ids[3]]);
  expect(rest.body.has_more).toBe(false);
});

test.each([
  ['limit=0', 'limit'],
  ['limit=101', 'limit'],
  ['limit=ten', 'limit'],
  ['status=done', 'status'],
  ['cursor=bm90LWEtY3Vyc29y', 'cursor'],
  ['cursor=%25%25', 'cursor'],
  ['created_after=yesterday', 'created_after'],
  ['model=', 'model'],
  ['offset=10', 'offset'],
  ['limit=1&limit=2', 'limit'],
])('GET /v1/inference?%s is a 400 naming %s', async (qs, param) => {
  const res = await s.call('GET', `/v1/inference?${qs}`);
  expect(res.status).toBe(400);
  expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param });
});

test('the list query is served by an index, in order, with no sort (EXPLAIN)', async () => {
  const client = await s.pool.connect();
  try {
    await client.query('BEGIN');
    // The planner's choice depends on the table's size and statistics (other test files write to it
    // too): make the alternatives to an ordered index scan prohibitively expensive, not impossible. A
    // query no index can serve in order still shows a Seq Scan or a Sort below.
    await client.query('SET LOCAL enable_seqscan = off');
    await client.query('SET LOCAL enable_bitmapscan = off');
    await client.query('SET LOCAL enable_sort = off');
    const after = { acceptedAt: '2030-01-01T00:00:00.000000Z', id: `inf_${'f'.repeat(32)}` };
    for (const [filter, index] of [
      [{}, 'requests_tenant_accepted'],
      [{ model: 'ref-small' }, 'requests_tenant_accepted'],
      [{ status: 'completed' as const }, 'requests_tenant_status_accepted'],
    ] as const) {
      const q = listQuery({ tenantId: s.tenantId, limit: 20, after, ...filter });
      const plan = (await client.query(`EXPLAIN ${q.text}`, q.values)).rows
        .map((r) => r['QUERY PLAN'])
        .join('\n');
      expect(plan).toContain(`Index Scan using ${index}`);
      expect(plan).not.toMatch(/Sort|Seq Scan/);
      expect(plan).toMatch(/Index Cond: .*accepted_at <=/);
    }
    await client.query('ROLLBACK');
  } finally {
    client.release();
  }
});

interface Sums {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}
async function ledgerBy(tenantId: string): Promise<(Sums & { day: string; model: string })[]> {
  const { rows } = await s.pool.query(
    `SELECT to_char(window_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, model, count(*)::int AS requests,
       sum(prompt_tokens)::int AS prompt_tokens, sum(completion_tokens)::int AS completion_tokens,
       sum(total_tokens)::int AS total_tokens
     FROM usage_ledger WHERE tenant_id = $1 GROUP BY 1, 2 ORDER BY 1, 2`,
    [tenantId],
  );
  return rows;
}

test('GET /v1/usage equals the ledger to the token, as JSON and as CSV', async () => {
  const ledger = await ledgerBy(s.tenantId);
  expect(ledger.reduce((n, r) => n + r.requests, 0)).toBe(ids.length);
  const from = '2020-01-01T00:00:00Z';
  const to = new Date(Date.now() + 86_400_000).toISOString();
  const q = `from=${from}&to=${encodeURIComponent(to)}`;
  const json = await get(`/v1/usage?${q}&group_by=day,model`);
  // 2020 .. tomorrow is over 400 days: refused.
  expect(json.status).toBe(400);
  expect(json.body.error.param).toBe('from');

  const from2 = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
  const ok = await get(`/v1/usage?from=${from2}&to=${encodeURIComponent(to)}&group_by=day,model`);
  expect(ok.status).toBe(200);
  expect(ok.body.data).toEqual(ledger);
  const totals = await s.ledgerTotals();
  expect(ok.body.total).toMatchObject({ requests: totals.requests, total_tokens: totals.tokens });

  const byModel = await get(`/v1/usage?from=${from2}&group_by=model`);
  expect(byModel.body.data).toEqual([
    expect.objectContaining({ model: 'ref-small', requests: totals.requests, total_tokens: totals.tokens }),
  ]);

  const csv = await get(
    `/v1/usage?from=${from2}&to=${encodeURIComponent(to)}&group_by=day,model`,
    'text/csv',
  );
  expect(csv.status).toBe(200);
  expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
  const lines = csv.text.split('\r\n');
  expect(lines.pop()).toBe('');
  expect(lines[0]).toBe('day,model,requests,prompt_tokens,completion_tokens,total_tokens');
  const parsed = lines.slice(1).map((l) => {
    const [day, model, ...n] = l.split(',');
    const [requests, prompt_tokens, completion_tokens, total_tokens] = n.map(Number);
    return { day, model, requests, prompt_tokens, completion_tokens, total_tokens };
  });
  expect(parsed).toEqual(ledger);
});

test.each([
  ['from=2026-13-01', 'from'],
  ['to=tomorrow', 'to'],
  ['from=2026-02-01&to=2026-01-01', 'to'],
  ['from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'to'],
  ['from=2024-01-01&to=2025-03-01', 'from'],
  ['group_by=tenant', 'group_by'],
  ['group_by=day,day', 'group_by'],
  ['group_by=', 'group_by'],
  ['tenant=x', 'tenant'],
])('GET /v1/usage?%s is a 400 naming %s', async (qs, param) => {
  const res = await s.call('GET', `/v1/usage?${qs}`);
  expect(res.status).toBe(400);
  expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param });
});

test('GET /admin/usage groups by tenant, for all tenants or one, equal to the ledger', async () => {
  const mine = await ledgerBy(s.tenantId);
  const one = await s.call(
    'GET',
    `/admin/usage?tenant=${s.tenantId}&group_by=day,model`,
    undefined,
    s.cfg.ADMIN_TOKEN,
  );
  expect(one.status).toBe(200);
  expect(one.body.group_by).toEqual(['tenant', 'day', 'model']);
  expect(one.body.data).toEqual(mine.map((r) => ({ tenant: s.tenantId, ...r })));

  const all = await s.call('GET', '/admin/usage?group_by=model', undefined, s.cfg.ADMIN_TOKEN);
  const tenants = (all.body.data as any[]).map((r: { tenant: string }) => r.tenant);
  expect(tenants).toEqual(expect.arrayContaining([s.tenantId, otherTenant]));
  const { rows } = await s.pool.query(
    `SELECT tenant_id AS tenant, model, sum(total_tokens)::int AS total_tokens FROM usage_ledger
     WHERE window_at >= now() - interval '30 days' GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  // Other test files write to the same ledger meanwhile: compare this file's tenants only.
  const ours = (t: string): boolean => t === s.tenantId || t === otherTenant;
  expect(
    (all.body.data as any[])
      .filter((r: { tenant: string }) => ours(r.tenant))
      .map((r: { tenant: string; model: string; total_tokens: number }) => ({
        tenant: r.tenant,
        model: r.model,
        total_tokens: r.total_tokens,
      })),
  ).toEqual(rows.filter((r: { tenant: string }) => ours(r.tenant)));
  // Tenant keys are refused.
  expect((await s.call('GET', '/admin/usage')).status).toBe(401);
});

import { randomBytes } from 'node:crypto';
import OpenAI, { toFile } from 'openai';
import { startStack, type Stack } from '../support/stack';

/**
 * Issue 29, deliverable 2: OpenAI's Files + Batch API with the official `openai` client on the real
 * stack. A batch made from an uploaded file is the same resource as an inline batch (same table,
 * same workflow, items as child inference workflows); its output and error files are files.
 */
let s: Stack;
let client: OpenAI;
beforeAll(async () => {
  s = await startStack({ env: { BATCH_CONCURRENCY: '16' } });
  await s.setLimits({
    requests_per_minute: 100_000,
    requests_per_day: 1_000_000,
    tokens_per_day: 100_000_000,
    tokens_per_month: 1_000_000_000,
    max_in_flight: 1000,
  });
  client = new OpenAI({ baseURL: `${s.apiUrl}/v1`, apiKey: s.apiKey, maxRetries: 0 });
});
afterAll(async () => {
  await s?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Line = { custom_id: string; method: string; url: string; body: Record<string, unknown> };
const chatLine = (i: number, extra: Record<string, unknown> = {}): Line => ({
  custom_id: `req-${i}`,
  method: 'POST',
  url: '/v1/chat/completions',
  body: {
    model: 'ref-small',
    messages: [{ role: 'user', content: `line ${i} [[stop:2]]` }],
    max_tokens: 4,
    ...extra,
  },
});
const jsonl = (lines: unknown[]): string =>
  lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';

async function upload(text: string, c = client): Promise<OpenAI.FileObject> {
  return c.files.create({ file: await toFile(Buffer.from(text), 'batch.jsonl'), purpose: 'batch' });
}

async function waitStatus(
  id: string,
  statuses: string[],
  c = client,
  timeoutMs = 240_000,
): Promise<OpenAI.Batch> {
  const deadline = Date.now() + timeoutMs;
  const seen = new Set<string>();
  for (;;) {
    const b = await c.batches.retrieve(id);
    seen.add(b.status);
    if (statuses.includes(b.status)) return Object.assign(b, { seen: [...seen] });
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${JSON.stringify(b)}`);
    await sleep(200);
  }
}

async function content(fileId: string, c = client): Promise<Record<string, any>[]> {
  const res = await c.files.content(fileId);
  const text = await res.text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);
}

async function newTenant(
  limits: Record<string, number> = {},
): Promise<{ id: string; key: string; c: OpenAI }> {
  const id = `fb-${randomBytes(6).toString('hex')}`;
  const key = `sk-fb-${randomBytes(12).toString('hex')}`;
  await s.tenants.ensure({ id, name: 'files batch tenant', tier: 'standard' });
  await s.tenants.addApiKey(id, key);
  if (Object.keys(limits).length) {
    const put = await s.call('PUT', `/admin/tenants/${id}/limits`, limits, s.cfg.ADMIN_TOKEN);
    expect(put.status).toBe(200);
  }
  return { id, key, c: new OpenAI({ baseURL: `${s.apiUrl}/v1`, apiKey: key, maxRetries: 0 }) };
}

test('files.create + batches.create with 200 lines → completed; output lines match the custom_ids; invalid lines land in the error file', async () => {
  const good = Array.from({ length: 200 }, (_, i) => chatLine(i));
  const lines: unknown[] = [
    ...good.slice(0, 100),
    'this is not json',
    { ...chatLine(1000), body: { ...chatLine(1000).body, temperature: 9 } },
    { ...chatLine(1001), url: '/v1/completions' },
    chatLine(5), // duplicate custom_id
    { ...chatLine(1002), body: { ...chatLine(1002).body, model: 'no-such-model' } },
    ...good.slice(100),
  ];
  const file = await upload(jsonl(lines));
  expect(file).toMatchObject({
    object: 'file',
    purpose: 'batch',
    filename: 'batch.jsonl',
    status: 'processed',
  });
  expect(file.id).toMatch(/^file-/);

  const created = await client.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
    metadata: { run: 'files-batches-test' },
  });
  expect(created).toMatchObject({
    object: 'batch',
    endpoint: '/v1/chat/completions',
    input_file_id: file.id,
    completion_window: '24h',
    metadata: { run: 'files-batches-test' },
  });
  expect(['validating', 'in_progress']).toContain(created.status);
  expect(created.expires_at! - created.created_at).toBe(86_400);

  const done = await waitStatus(created.id, ['completed', 'failed', 'expired', 'cancelled']);
  expect(done.status).toBe('completed');
  expect(done.request_counts).toEqual({ total: 205, completed: 200, failed: 5 });
  expect(done.completed_at).toBeGreaterThanOrEqual(done.created_at);
  expect(done.output_file_id).toBeTruthy();
  expect(done.error_file_id).toBeTruthy();

  const out = await content(done.output_file_id!);
  expect(out.map((l) => l.custom_id)).toEqual(good.map((l) => l.custom_id));
  for (const l of out) {
    expect(l.error).toBeNull();
    expect(l.id).toMatch(/^batch_req_/);
    expect(l.response.status_code).toBe(200);
    expect(l.response.body).toMatchObject({
      object: 'chat.completion',
      model: 'ref-small',
      choices: [{ index: 0, message: { role: 'assistant' } }],
    });
    expect(l.response.body.usage.total_tokens).toBeGreaterThan(0);
    // The line's request is a request like any other.
    expect(l.response.request_id).toBe(l.response.body.id);
  }
  const one = await s.call('GET', `/v1/inference/${out[0]!.response.request_id}`);
  expect(one.body).toMatchObject({ status: 'completed' });

  const errs = await content(done.error_file_id!);
  expect(errs.map((l) => [l.custom_id, l.error.code, l.error.line])).toEqual([
    [null, 'invalid_json_line', 101],
    ['req-1000', 'invalid_body', 102],
    ['req-1001', 'mismatched_url', 103],
    ['req-5', 'duplicate_custom_id', 104],
    ['req-1002', 'model_not_found', 105],
  ]);
  expect(errs[1]!.error.message).toMatch(/body\.temperature/);
  expect(errs.every((l) => l.response === null)).toBe(true);

  // One ledger row per line run, none for an invalid line.
  const { rows } = await s.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM batch_items i JOIN usage_ledger l ON l.request_id = i.request_id WHERE i.batch_id = $1`,
    [done.id],
  );
  expect(Number(rows[0]!.n)).toBe(200);

  // The output files are files of the tenant: listed, retrievable, with their size.
  const meta = await client.files.retrieve(done.output_file_id!);
  expect(meta).toMatchObject({ purpose: 'batch_output', object: 'file' });
  const bytes = (await (await client.files.content(done.output_file_id!)).arrayBuffer()).byteLength;
  expect(meta.bytes).toBe(bytes);
  // Same resource as an inline batch: listed with them, with its results as well.
  const list = await client.batches.list({ limit: 5 });
  expect(list.data.find((b) => b.id === done.id)?.request_counts).toEqual(done.request_counts);
  const results = await fetch(`${s.apiUrl}/v1/batches/${done.id}/results`, {
    headers: { authorization: `Bearer ${s.apiKey}` },
  });
  expect((await results.text()).trim().split('\n')).toHaveLength(200);
}, 300_000);

test('/v1/completions lines: text_completion bodies in the output file', async () => {
  const lines = Array.from({ length: 3 }, (_, i) => ({
    custom_id: `t-${i}`,
    method: 'POST',
    url: '/v1/completions',
    body: { model: 'ref-small', prompt: `text ${i} [[stop:2]]`, max_tokens: 4, seed: 7 },
  }));
  const file = await upload(jsonl(lines));
  const b = await client.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/completions',
    completion_window: '24h',
  });
  const done = await waitStatus(b.id, ['completed']);
  expect(done.error_file_id).toBeNull();
  const out = await content(done.output_file_id!);
  expect(out.map((l) => [l.custom_id, l.response.body.object])).toEqual([
    ['t-0', 'text_completion'],
    ['t-1', 'text_completion'],
    ['t-2', 'text_completion'],
  ]);
}, 120_000);

test('/v1/responses lines: response objects in the output file, incomplete at max_output_tokens', async () => {
  const lines = [
    {
      custom_id: 'r-0',
      method: 'POST',
      url: '/v1/responses',
      body: { model: 'ref-small', input: 'one [[stop:2]]' },
    },
    {
      custom_id: 'r-1',
      method: 'POST',
      url: '/v1/responses',
      body: {
        model: 'ref-small',
        instructions: 'be brief',
        input: [{ role: 'user', content: 'two' }],
        max_output_tokens: 3,
      },
    },
    {
      custom_id: 'r-2',
      method: 'POST',
      url: '/v1/responses',
      body: { model: 'ref-small', input: 'x', tools: [1] },
    },
  ];
  const file = await upload(jsonl(lines));
  const b = await client.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/responses',
    completion_window: '24h',
  });
  const done = await waitStatus(b.id, ['completed']);
  expect(done.request_counts).toEqual({ total: 3, completed: 2, failed: 1 });
  const out = await content(done.output_file_id!);
  expect(
    out.map((l) => [l.custom_id, l.response.status_code, l.response.body.object, l.response.body.status]),
  ).toEqual([
    ['r-0', 200, 'response', 'completed'],
    ['r-1', 200, 'response', 'incomplete'],
  ]);
  expect(out[1]!.response.body.incomplete_details).toEqual({ reason: 'max_output_tokens' });
  expect(out[1]!.response.body.usage.output_tokens).toBe(3);
  const text = out[0]!.response.body.output[0].content[0].text as string;
  const row = await s.call('GET', `/v1/inference/${out[0]!.response.request_id}`);
  expect(row.body.output).toBe(text);
  const errs = await content(done.error_file_id!);
  expect(errs.map((l) => [l.custom_id, l.error.code])).toEqual([['r-2', 'invalid_body']]);
  expect(errs[0]!.error.message).toMatch(/tools/);
}, 120_000);

test('a file of only invalid lines: the batch ends failed with errors listed and an error file', async () => {
  const file = await upload(jsonl(['{"custom_id": "x"}', 'nope']));
  const b = await client.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
  });
  const done = await waitStatus(b.id, ['failed', 'completed']);
  expect(done.status).toBe('failed');
  expect(done.failed_at).toBeTruthy();
  expect(done.output_file_id).toBeNull();
  expect(done.errors?.data?.map((e) => [e.code, e.line])).toEqual([
    ['invalid_request', 1],
    ['invalid_json_line', 2],
  ]);
  expect((await content(done.error_file_id!)).map((l) => l.error.code)).toEqual([
    'invalid_request',
    'invalid_json_line',
  ]);
}, 120_000);

test('bad creates: clear 400s and 404s naming the field, nothing stored', async () => {
  const t = await newTenant();
  const file = await upload(jsonl([chatLine(0)]), t.c);
  const bad = async (body: Record<string, unknown>): Promise<{ status: number; error: any }> => {
    const r = await s.call('POST', '/v1/batches', body, t.key);
    return { status: r.status, error: r.body.error };
  };
  const ok = { input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' };
  expect(await bad({ ...ok, endpoint: '/v1/embeddings' })).toMatchObject({
    status: 400,
    error: { param: 'endpoint' },
  });
  expect(await bad({ ...ok, completion_window: '1h' })).toMatchObject({
    status: 400,
    error: { param: 'completion_window' },
  });
  expect(await bad({ ...ok, endpoint: '/v1/embeddings' })).toMatchObject({
    status: 400,
    error: { param: 'endpoint' },
  });
  expect(await bad({ ...ok, input_file_id: 'file-doesnotexist' })).toMatchObject({
    status: 404,
    error: { param: 'input_file_id' },
  });
  // Another tenant's file is not found.
  expect(await bad({ ...ok, input_file_id: (await upload(jsonl([chatLine(1)]))).id })).toMatchObject({
    status: 404,
    error: { param: 'input_file_id' },
  });
  const { rows } = await s.pool.query('SELECT 1 FROM batches WHERE tenant_id = $1', [t.id]);
  expect(rows).toHaveLength(0);
  // A wrong purpose or no file: 400 naming it.
  const form = new FormData();
  form.append('purpose', 'fine-tune');
  form.append('file', new Blob([jsonl([chatLine(0)])]), 'x.jsonl');
  const r1 = await fetch(`${s.apiUrl}/v1/files`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.key}` },
    body: form,
  });
  expect(r1.status).toBe(400);
  expect(((await r1.json()) as any).error).toMatchObject({ param: 'purpose' });
  const r2 = await fetch(`${s.apiUrl}/v1/files`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
    body: '{}',
  });
  expect(r2.status).toBe(400);
  expect(((await r2.json()) as any).error).toMatchObject({ param: 'body' });
  const files = await s.pool.query('SELECT id FROM files WHERE tenant_id = $1', [t.id]);
  expect(files.rows.map((r) => r.id)).toEqual([file.id]);
}, 120_000);

test('a batch over the tenant’s token quota is refused at create (429), nothing left behind', async () => {
  const t = await newTenant({ tokens_per_day: 500 });
  // 60 lines of ~10 prompt tokens + 4 max_tokens each: over 500 in total, though each would fit.
  const file = await upload(jsonl(Array.from({ length: 60 }, (_, i) => chatLine(i))), t.c);
  const err = await t.c.batches
    .create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OpenAI.RateLimitError);
  expect((err as InstanceType<typeof OpenAI.RateLimitError>).error).toMatchObject({ type: 'quota_exceeded' });
  for (const table of ['batches', 'requests']) {
    const { rows } = await s.pool.query(`SELECT 1 FROM ${table} WHERE tenant_id = $1`, [t.id]);
    expect({ table, rows: rows.length }).toEqual({ table, rows: 0 });
  }
  const { rows } = await s.pool.query(
    `SELECT 1 FROM batch_line_errors e JOIN batches b ON b.id = e.batch_id WHERE b.tenant_id = $1`,
    [t.id],
  );
  expect(rows).toHaveLength(0);
  let workflows = 0;
  for await (const _ of s.client.workflow.list({ query: `TenantId = "${t.id}"` })) workflows++;
  expect(workflows).toBe(0);
}, 120_000);

test('cancel: cancelling → cancelled; lines run before are in the output, the rest batch_cancelled', async () => {
  // 60 slow lines (2,000 tokens each at 1 ms a token), 16 at a time: most have not started when the cancel comes.
  const t = await newTenant();
  const lines = Array.from({ length: 60 }, (_, i) =>
    chatLine(i, { messages: [{ role: 'user', content: `slow ${i}` }], max_tokens: 2000 }),
  );
  const file = await upload(jsonl(lines), t.c);
  const b = await t.c.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
  });
  await waitStatus(b.id, ['in_progress'], t.c, 60_000);
  await sleep(500);
  const cancelling = await t.c.batches.cancel(b.id);
  expect(['cancelling', 'cancelled']).toContain(cancelling.status);
  const done = await waitStatus(b.id, ['cancelled', 'completed'], t.c, 120_000);
  expect(done.status).toBe('cancelled');
  expect(done.cancelled_at).toBeTruthy();
  expect(done.cancelling_at).toBeTruthy();
  const errs = await content(done.error_file_id!, t.c);
  const out = done.output_file_id ? await content(done.output_file_id, t.c) : [];
  expect(out.length + errs.length).toBe(60);
  expect(errs.filter((l) => l.error?.code === 'batch_cancelled').length).toBeGreaterThan(30);
  expect(new Set([...out, ...errs].map((l) => l.custom_id))).toEqual(new Set(lines.map((l) => l.custom_id)));
  // A second cancel: 409, the batch has ended.
  const again = await s.call('POST', `/v1/batches/${b.id}/cancel`, undefined, t.key);
  expect(again.status).toBe(409);
  // Nothing reserved is left.
  const q = await s.call('GET', '/v1/quota', undefined, t.key);
  expect(q.body.limits.max_in_flight.reserved).toBe(0);
}, 180_000);

test('files: list, retrieve, content (as uploaded), delete; another tenant gets 404 on every route', async () => {
  const text = jsonl([chatLine(1), chatLine(2)]);
  const f = await upload(text);
  expect(f.bytes).toBe(Buffer.byteLength(text));
  const list = await client.files.list({ purpose: 'batch' });
  expect(list.data.map((x) => x.id)).toContain(f.id);
  expect(await client.files.retrieve(f.id)).toMatchObject({ id: f.id, bytes: f.bytes, purpose: 'batch' });
  expect(await (await client.files.content(f.id)).text()).toBe(text);

  const other = await newTenant();
  for (const [method, path] of [
    ['GET', `/v1/files/${f.id}`],
    ['GET', `/v1/files/${f.id}/content`],
    ['DELETE', `/v1/files/${f.id}`],
  ] as const) {
    const r = await s.call(method, path, undefined, other.key);
    expect({ method, path, status: r.status }).toEqual({ method, path, status: 404 });
  }
  expect((await other.c.files.list()).data.map((x) => x.id)).not.toContain(f.id);

  expect(await client.files.delete(f.id)).toEqual({ id: f.id, object: 'file', deleted: true });
  expect((await s.call('GET', `/v1/files/${f.id}`)).status).toBe(404);
  const { rows } = await s.pool.query('SELECT count(*)::int AS n FROM file_chunks WHERE file_id = $1', [
    f.id,
  ]);
  expect(rows[0].n).toBe(0);
  expect((await s.call('DELETE', `/v1/files/${f.id}`)).status).toBe(404);
}, 60_000);

test('another tenant gets 404 for a batch made from a file', async () => {
  const file = await upload(jsonl([chatLine(0)]));
  const b = await client.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
  });
  const other = await newTenant();
  for (const [method, path] of [
    ['GET', `/v1/batches/${b.id}`],
    ['POST', `/v1/batches/${b.id}/cancel`],
    ['GET', `/v1/batches/${b.id}/results`],
  ] as const) {
    const r = await s.call(method, path, undefined, other.key);
    expect({ path, status: r.status }).toEqual({ path, status: 404 });
  }
  await waitStatus(b.id, ['completed']);
}, 60_000);

test('metrics: uploads, lines and downloads are counted', async () => {
  const text = await s.metrics.registry.metrics();
  expect(text).toMatch(/inference_file_uploads_total\{outcome="stored"[^}]*\} [1-9]/);
  expect(text).toMatch(/inference_file_uploads_total\{outcome="invalid"[^}]*\} [1-9]/);
  expect(text).toMatch(/inference_batch_file_lines_total\{outcome="invalid"[^}]*\} [1-9]/);
  expect(text).toMatch(/inference_file_downloaded_bytes_total\{purpose="batch_output"[^}]*\} [1-9]/);
});

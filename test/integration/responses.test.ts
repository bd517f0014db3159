import OpenAI from 'openai';
import { startApiReplica, type ApiReplica } from '../support/api-replica';
import { expectQuotaMatchesLedger, startStack, type Stack } from '../support/stack';

/**
 * OpenAI's Responses API with the official `openai` client: each response is one durable request
 * (same id in GET /v1/inference/:id and the ledger), background mode, cancel, delete, input items,
 * and a stream resumed with `starting_after` on a second API replica.
 */
let s: Stack;
let client: OpenAI;
let replica: ApiReplica;
let client2: OpenAI;

beforeAll(async () => {
  s = await startStack({ modelService: { decodeMsPerToken: 2 } });
  replica = await startApiReplica(s, { name: 'responses-replica' });
  client = new OpenAI({ baseURL: `${s.apiUrl}/v1`, apiKey: s.apiKey, maxRetries: 0 });
  client2 = new OpenAI({ baseURL: `${replica.url}/v1`, apiKey: s.apiKey, maxRetries: 0 });
});
afterAll(async () => {
  await replica?.stop();
  await s?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Event = OpenAI.Responses.ResponseStreamEvent;

const ledger = async (id: string): Promise<number[]> =>
  (
    await s.pool.query<{ total_tokens: number }>(
      'SELECT total_tokens FROM usage_ledger WHERE request_id = $1',
      [id],
    )
  ).rows.map((r) => r.total_tokens);

/** Polls the response until it is terminal. */
async function settled(id: string, c = client): Promise<OpenAI.Responses.Response> {
  for (let i = 0; i < 400; i++) {
    const r = await c.responses.retrieve(id);
    if (['completed', 'failed', 'cancelled', 'incomplete'].includes(r.status!)) return r;
    await sleep(50);
  }
  throw new Error(`response ${id} did not end`);
}

const textOf = (events: Event[]): string =>
  events
    .filter((e): e is OpenAI.Responses.ResponseTextDeltaEvent => e.type === 'response.output_text.delta')
    .map((e) => e.delta)
    .join('');

test('background: create answers queued, polling reaches completed; one request, charged once', async () => {
  const created = await client.responses.create({
    model: 'ref-small',
    instructions: 'Answer briefly.',
    input: 'hello there [[stop:6]]',
    background: true,
    metadata: { job: 'bg-1' },
  });
  expect(created).toMatchObject({ object: 'response', status: 'queued', background: true, output: [] });
  expect(created.id).toMatch(/^inf_[a-f0-9]{32}$/);
  const done = await settled(created.id);
  expect(done).toMatchObject({
    status: 'completed',
    instructions: 'Answer briefly.',
    metadata: { job: 'bg-1' },
    error: null,
    incomplete_details: null,
  });
  expect(done.output_text.length).toBeGreaterThan(0);
  expect(done.usage).toMatchObject({ output_tokens: 6 });
  expect(done.usage!.total_tokens).toBe(done.usage!.input_tokens + 6);
  const native = await s.call('GET', `/v1/inference/${created.id}`);
  expect(native.body).toMatchObject({ status: 'completed', output: done.output_text });
  // The instructions reached the model as the system message: its prompt counts them.
  const plain = await client.responses.create({ model: 'ref-small', input: 'hello there [[stop:6]]' });
  expect(plain.usage!.input_tokens).toBeLessThan(done.usage!.input_tokens);
  expect(await ledger(created.id)).toEqual([done.usage!.total_tokens]);
  // The same response from the other replica.
  expect((await client2.responses.retrieve(created.id)).output_text).toBe(done.output_text);
});

test('foreground: completed in one call; max_output_tokens ends it incomplete', async () => {
  const r = await client.responses.create({
    model: 'ref-small',
    input: [
      { role: 'developer', content: 'be terse' },
      { role: 'user', content: [{ type: 'input_text', text: 'count to ten' }] },
    ],
    max_output_tokens: 8,
  });
  expect(r).toMatchObject({
    status: 'incomplete',
    incomplete_details: { reason: 'max_output_tokens' },
    max_output_tokens: 8,
    usage: { output_tokens: 8 },
  });
  expect(r.output[0]).toMatchObject({ type: 'message', role: 'assistant', status: 'incomplete' });
  expect(r.output_text.length).toBeGreaterThan(0);
  const ok = await client.responses.create({ model: 'ref-small', input: 'short [[stop:3]]' });
  expect(ok).toMatchObject({ status: 'completed', usage: { output_tokens: 3 } });
  expect(ok.output[0]).toMatchObject({ status: 'completed' });
});

test('stream: the events OpenAI sends, contiguous sequence numbers, deltas join to the stored text', async () => {
  const stream = await client.responses.create({
    model: 'ref-small',
    input: 'stream this please',
    max_output_tokens: 40,
    stream: true,
  });
  const events: Event[] = [];
  for await (const e of stream) events.push(e);
  expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
  const types = events.map((e) => e.type);
  expect(types.slice(0, 4)).toEqual([
    'response.created',
    'response.in_progress',
    'response.output_item.added',
    'response.content_part.added',
  ]);
  expect(types.slice(-4)).toEqual([
    'response.output_text.done',
    'response.content_part.done',
    'response.output_item.done',
    'response.incomplete',
  ]);
  const last = events[events.length - 1] as OpenAI.Responses.ResponseIncompleteEvent;
  const stored = await client.responses.retrieve(last.response.id);
  expect(textOf(events)).toBe(stored.output_text);
  expect(last.response.usage).toEqual(stored.usage);
});

test("the client's responses.stream helper: its final response, and a resume by response_id", async () => {
  const final = await client.responses
    .stream({ model: 'ref-small', input: 'helper please', max_output_tokens: 12 })
    .finalResponse();
  const stored = await client.responses.retrieve(final.id);
  expect(final.output_text).toBe(stored.output_text);
  expect(final.status).toBe('incomplete');
  const seen: number[] = [];
  const resumed = client2.responses.stream({ response_id: final.id, starting_after: 3 });
  resumed.on('event', (e) => seen.push(e.sequence_number));
  expect((await resumed.finalResponse()).output_text).toBe(stored.output_text);
  expect(seen[0]).toBe(4);
});

test('resume: drop a background stream after N events, resume with starting_after=N on another replica', async () => {
  const ac = new AbortController();
  const stream = await client.responses.create(
    { model: 'ref-small', input: 'a long tale', max_output_tokens: 400, background: true, stream: true },
    { signal: ac.signal },
  );
  const first: Event[] = [];
  try {
    for await (const e of stream) {
      first.push(e);
      if (first.filter((x) => x.type === 'response.output_text.delta').length >= 3) {
        ac.abort();
        break;
      }
    }
  } catch {
    // the client reports the abort as an error or ends the iteration
  }
  const created = first[0] as OpenAI.Responses.ResponseCreatedEvent;
  expect(first.slice(0, 2).map((e) => e.type)).toEqual(['response.created', 'response.queued']);
  expect(created.response.status).toBe('queued');
  const n = first[first.length - 1]!.sequence_number;
  const id = created.response.id;
  // A background response keeps running without its client.
  const resumed = await client2.responses.retrieve(id, { stream: true, starting_after: n });
  const rest: Event[] = [];
  for await (const e of resumed) rest.push(e);
  expect(rest[0]!.sequence_number).toBe(n + 1);
  expect(rest.map((e) => e.sequence_number)).toEqual(rest.map((_, i) => n + 1 + i));
  const done = await settled(id);
  expect(done.status).toBe('incomplete');
  expect(textOf([...first, ...rest])).toBe(done.output_text);
  expect(rest[rest.length - 1]!.type).toBe('response.incomplete');
  // After the end, a resume from the middle gives the same events again, on either replica.
  const again: Event[] = [];
  for await (const e of await client.responses.retrieve(id, { stream: true, starting_after: n }))
    again.push(e);
  expect(again).toEqual(rest);
  // An EventSource's reconnect: Last-Event-ID is the last sequence number seen.
  const sse = await fetch(`${replica.url}/v1/responses/${id}?stream=true`, {
    headers: { authorization: `Bearer ${s.apiKey}`, 'last-event-id': String(n) },
  });
  const ids = [...(await sse.text()).matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  expect(ids).toEqual(rest.map((e) => e.sequence_number));
});

test('cancel: while queued and while running, charged exactly, twice returns the final object', async () => {
  // Queued: no GPU worker to run it.
  await s.node.stopGpuWorkers();
  let queued: OpenAI.Responses.Response;
  try {
    queued = await client.responses.create({ model: 'ref-small', input: 'never runs', background: true });
    const c1 = await client.responses.cancel(queued.id);
    expect(c1.status).toBe('cancelled');
    expect(c1.usage).toBeNull();
  } finally {
    await s.node.addGpuWorker();
  }
  expect(await ledger(queued.id)).toEqual([]);

  const running = await client.responses.create({
    model: 'ref-small',
    input: 'a very long answer',
    max_output_tokens: 3000,
    background: true,
  });
  for (let i = 0; i < 200; i++) {
    if ((await client.responses.retrieve(running.id)).status === 'in_progress') break;
    await sleep(25);
  }
  await sleep(200);
  const cancelled = await client.responses.cancel(running.id);
  expect(cancelled.status).toBe('cancelled');
  expect(cancelled.usage!.output_tokens).toBeGreaterThan(0);
  expect(cancelled.usage!.output_tokens).toBeLessThan(3000);
  expect(await ledger(running.id)).toEqual([cancelled.usage!.total_tokens]);
  const twice = await client.responses.cancel(running.id);
  expect(twice).toEqual(cancelled);
  await expectQuotaMatchesLedger(s);
});

test('a foreground stream whose client disconnects is cancelled and its output so far billed', async () => {
  const ac = new AbortController();
  const stream = await client.responses.create(
    { model: 'ref-small', input: 'go on and on', max_output_tokens: 3000, stream: true },
    { signal: ac.signal },
  );
  let id = '';
  let deltas = 0;
  try {
    for await (const e of stream) {
      if (e.type === 'response.created') id = e.response.id;
      if (e.type === 'response.output_text.delta' && ++deltas >= 3) ac.abort();
    }
  } catch {
    // aborted
  }
  const done = await settled(id);
  expect(done.status).toBe('cancelled');
  expect(done.usage!.output_tokens).toBeGreaterThan(0);
  expect(done.usage!.output_tokens).toBeLessThan(3000);
  expect(await ledger(id)).toEqual([done.usage!.total_tokens]);
});

test('input_items lists the input messages; delete removes the response; store:false is not kept', async () => {
  const r = await client.responses.create({
    model: 'ref-small',
    instructions: 'sys',
    input: [
      { role: 'user', content: 'one' },
      { role: 'assistant', content: 'two' },
      { role: 'user', content: 'three [[stop:2]]' },
    ],
  });
  const page = await client.responses.inputItems.list(r.id, { limit: 2 });
  expect(page.data.map((m) => (m as { content: { text: string }[] }).content[0]!.text)).toEqual([
    'three [[stop:2]]',
    'two',
  ]);
  const all = [];
  for await (const m of client.responses.inputItems.list(r.id, { order: 'asc', limit: 1 })) all.push(m);
  expect(all.map((m) => (m as { role: string }).role)).toEqual(['user', 'assistant', 'user']);

  const deleted = await s.call('DELETE', `/v1/responses/${r.id}`);
  expect(deleted).toMatchObject({ status: 200, body: { id: r.id, object: 'response', deleted: true } });
  expect((await s.call('GET', `/v1/responses/${r.id}`)).status).toBe(404);
  expect((await s.call('GET', `/v1/responses/${r.id}/input_items`)).status).toBe(404);
  expect((await s.call('DELETE', `/v1/responses/${r.id}`)).status).toBe(404);
  // The request record and its charge stay.
  expect((await s.call('GET', `/v1/inference/${r.id}`)).body.status).toBe('completed');

  const unstored = await client.responses.create({ model: 'ref-small', input: 'x [[stop:2]]', store: false });
  expect(unstored).toMatchObject({ status: 'completed', store: false });
  expect((await s.call('GET', `/v1/responses/${unstored.id}`)).status).toBe(404);
  const { rows } = await s.pool.query('SELECT request FROM responses WHERE request_id = $1', [unstored.id]);
  expect(rows).toEqual([{ request: null }]);
});

test('validation errors name the field; another tenant gets 404 on every route', async () => {
  const bad = async (body: unknown, param: string): Promise<void> => {
    const res = await s.call('POST', '/v1/responses', body);
    expect({ status: res.status, type: res.body.error.type, param: res.body.error.param }).toEqual({
      status: 400,
      type: 'invalid_request_error',
      param,
    });
  };
  await bad({ input: 'hi' }, 'model');
  await bad({ model: 'ref-small' }, 'input');
  await bad({ model: 'ref-small', input: 'hi', max_output_tokens: 0 }, 'max_output_tokens');
  await bad({ model: 'ref-small', input: 'hi', temperature: 3 }, 'temperature');
  await bad({ model: 'ref-small', input: 'hi', tools: [{ type: 'web_search' }] }, 'tools');
  await bad({ model: 'ref-small', input: 'hi', background: true, store: false }, 'store');
  await bad({ model: 'ref-small', input: 'hi', previous_response_id: 'x' }, 'previous_response_id');
  await bad({ model: 'ref-small', input: 'hi', bogus: 1 }, 'bogus');
  await bad({ model: 'ref-small', input: [{ role: 'robot', content: 'x' }] }, 'input[0].role');
  // Checked on the chat request it becomes, named as the Responses field that was sent.
  await bad({ model: 'ref-small', input: 'hi', max_output_tokens: 5000 }, 'max_output_tokens');
  const long = 'a'.repeat(200_000);
  await bad(
    {
      model: 'ref-small',
      instructions: 'x',
      input: [
        { role: 'user', content: 'q' },
        { role: 'user', content: long },
      ],
    },
    'input[1].content',
  );
  await bad({ model: 'ref-small', instructions: long, input: 'q' }, 'instructions');
  await bad({ model: 'ref-small', input: long }, 'input');
  const unknownModel = await s.call('POST', '/v1/responses', { model: 'nope', input: 'hi' });
  expect(unknownModel.status).toBe(404);
  expect(unknownModel.body.error.param).toBe('model');
  const fg = await client.responses.create({ model: 'ref-small', input: 'fg [[stop:2]]' });
  const refused = await s.call('POST', `/v1/responses/${fg.id}/cancel`);
  expect({ status: refused.status, param: refused.body.error.param }).toEqual({ status: 400, param: 'id' });
  const resume = await s.call('GET', `/v1/responses/${fg.id}?stream=true&starting_after=-1`);
  expect({ status: resume.status, param: resume.body.error.param }).toEqual({
    status: 400,
    param: 'starting_after',
  });
  const items = await s.call('GET', `/v1/responses/${fg.id}/input_items?limit=500`);
  expect({ status: items.status, param: items.body.error.param }).toEqual({ status: 400, param: 'limit' });

  const otherTenant = `${s.tenantId}-other`;
  const otherKey = `sk-test-other-${s.tenantId}`;
  await s.tenants.ensure({ id: otherTenant, name: 'other', tier: 'standard' });
  await s.tenants.addApiKey(otherTenant, otherKey);
  for (const [method, path] of [
    ['GET', `/v1/responses/${fg.id}`],
    ['GET', `/v1/responses/${fg.id}?stream=true`],
    ['POST', `/v1/responses/${fg.id}/cancel`],
    ['DELETE', `/v1/responses/${fg.id}`],
    ['GET', `/v1/responses/${fg.id}/input_items`],
    ['GET', '/v1/responses/not-an-id'],
  ] as const) {
    const res = await s.call(method, path, undefined, otherKey);
    expect({ path, method, status: res.status, type: res.body?.error?.type }).toEqual({
      path,
      method,
      status: 404,
      type: 'not_found_error',
    });
  }
});

test('Idempotency-Key: a retry gets the same response and is charged once', async () => {
  const key = `resp-${s.tenantId}`;
  const body = { model: 'ref-small', input: 'idem [[stop:4]]', background: true };
  const a = await client.responses.create(body, { headers: { 'Idempotency-Key': key } });
  const b = await client.responses.create(body, { headers: { 'Idempotency-Key': key } });
  expect(b.id).toBe(a.id);
  const done = await settled(a.id);
  expect(await ledger(a.id)).toEqual([done.usage!.total_tokens]);
  const { rows } = await s.pool.query('SELECT count(*)::int AS n FROM responses WHERE request_id = $1', [
    a.id,
  ]);
  expect(rows[0]).toEqual({ n: 1 });
});

test('metrics: creations by mode and stream, operations by outcome, resumed stream events on the replica', async () => {
  const value = async (
    m: typeof s.metrics,
    name: string,
    labels: Record<string, string>,
  ): Promise<number> => {
    const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
    const v = metric?.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
    return Number(v?.value ?? 0);
  };
  expect(
    await value(s.metrics, 'inference_responses_created_total', { mode: 'background', stream: 'true' }),
  ).toBeGreaterThan(0);
  expect(
    await value(s.metrics, 'inference_responses_created_total', { mode: 'foreground', stream: 'false' }),
  ).toBeGreaterThan(0);
  expect(
    await value(s.metrics, 'inference_responses_operations_total', { operation: 'delete', outcome: 'ok' }),
  ).toBe(1);
  expect(
    await value(s.metrics, 'inference_responses_operations_total', {
      operation: 'cancel',
      outcome: 'refused',
    }),
  ).toBe(1);
  expect(
    await value(replica.metrics, 'inference_responses_operations_total', {
      operation: 'resume',
      outcome: 'ok',
    }),
  ).toBeGreaterThan(0);
  expect(
    await value(replica.metrics, 'inference_responses_stream_events_total', { resumed: 'true' }),
  ).toBeGreaterThan(0);
  expect(await value(s.metrics, 'inference_disconnect_cancels_total', { endpoint: 'responses' })).toBe(1);
});

import OpenAI from 'openai';
import { startStack, type Stack } from '../support/stack';

/**
 * The official `openai` client against the API: every call is a durable request with the same id in
 * the response, in GET /v1/inference/:id and in the ledger.
 */
let s: Stack;
let client: OpenAI;

beforeAll(async () => {
  s = await startStack({ modelService: { decodeMsPerToken: 2 } });
  client = new OpenAI({ baseURL: `${s.apiUrl}/v1`, apiKey: s.apiKey, maxRetries: 0 });
});
afterAll(() => s?.stop());

const ledgerTokens = async (id: string): Promise<number[]> =>
  (
    await s.pool.query<{ total_tokens: number }>(
      'SELECT total_tokens FROM usage_ledger WHERE request_id = $1',
      [id],
    )
  ).rows.map((r) => r.total_tokens);

test('chat.completions.create: content, finish_reason, usage; the same request in GET and the ledger', async () => {
  const { data, response } = await client.chat.completions
    .create({ model: 'ref-small', messages: [{ role: 'user', content: 'hello [[stop:5]]' }], max_tokens: 16 })
    .withResponse();
  expect(data.id).toMatch(/^inf_[a-f0-9]{32}$/);
  expect(response.headers.get('x-request-id')).toBe(data.id);
  expect(data.object).toBe('chat.completion');
  expect(data.choices[0]!.message.role).toBe('assistant');
  expect(data.choices[0]!.message.content!.length).toBeGreaterThan(0);
  expect(data.choices[0]!.finish_reason).toBe('stop');
  expect(data.usage!.completion_tokens).toBe(5);
  const native = await s.call('GET', `/v1/inference/${data.id}`);
  expect(native.body).toMatchObject({
    status: 'completed',
    output: data.choices[0]!.message.content,
    usage: data.usage,
  });
  expect(await ledgerTokens(data.id)).toEqual([data.usage!.total_tokens]);
});

test('completions.create and models.list in OpenAI shape', async () => {
  const c = await client.completions.create({ model: 'ref-small', prompt: 'once upon', max_tokens: 8 });
  expect(c).toMatchObject({ object: 'text_completion', model: 'ref-small' });
  expect(c.choices[0]!.finish_reason).toBe('length');
  expect(c.usage!.completion_tokens).toBe(8);
  const models = [];
  for await (const m of client.models.list()) models.push(m.id);
  expect(models).toEqual(['ref-small']);
  expect((await client.models.retrieve('ref-small')).id).toBe('ref-small');
});

test('stream with include_usage: deltas add up to the stored output, then usage, then [DONE]', async () => {
  const stream = await client.chat.completions.create({
    model: 'ref-small',
    messages: [{ role: 'user', content: 'stream me' }],
    max_tokens: 40,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let id = '';
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  let chunks = 0;
  for await (const chunk of stream) {
    id = chunk.id;
    chunks++;
    text += chunk.choices[0]?.delta.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
    if (chunk.usage) usage = chunk.usage;
  }
  expect(chunks).toBeGreaterThan(2);
  expect(finish).toBe('length');
  expect(usage?.completion_tokens).toBe(40);
  const native = await s.call('GET', `/v1/inference/${id}`);
  expect(native.body.output).toBe(text);
});

test('sampling parameters reach the model service (the reference service varies its text by seed)', async () => {
  const ask = async (seed: number) =>
    (
      await client.chat.completions.create({
        model: 'ref-small',
        messages: [{ role: 'user', content: 'same prompt' }],
        max_tokens: 12,
        temperature: 1,
        seed,
        top_p: 0.9,
        stop: ['never-appears'],
      })
    ).choices[0]!.message.content;
  const [a, b, c] = [await ask(1), await ask(1), await ask(2)];
  expect(a).toBe(b);
  expect(c).not.toBe(a);
});

test('errors come back as the client error classes, in the stable shape', async () => {
  const bad = new OpenAI({ baseURL: `${s.apiUrl}/v1`, apiKey: 'wrong-key', maxRetries: 0 });
  await expect(bad.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  const n2 = await client.chat.completions
    .create({ model: 'ref-small', messages: [{ role: 'user', content: 'x' }], n: 2 })
    .catch((e: unknown) => e);
  expect(n2).toBeInstanceOf(OpenAI.BadRequestError);
  expect((n2 as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('n');
  const tools = await client.chat.completions
    .create({
      model: 'ref-small',
      messages: [{ role: 'user', content: 'x' }],
      tools: [{ type: 'function', function: { name: 'f' } }],
    })
    .catch((e: unknown) => e);
  expect(tools).toBeInstanceOf(OpenAI.BadRequestError);
  expect((tools as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('tools');
  await expect(
    client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
  ).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  await expect(client.models.retrieve('no-such-model')).rejects.toBeInstanceOf(OpenAI.NotFoundError);

  await s.setLimits({ tokens_per_day: 1 });
  try {
    const limited = await client.chat.completions
      .create({ model: 'ref-small', messages: [{ role: 'user', content: 'x' }], max_tokens: 10 })
      .catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect(
      Number((limited as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after')),
    ).toBeGreaterThan(0);
  } finally {
    await s.setLimits({ tokens_per_day: null });
  }
});

test('a streaming client that disconnects cancels its request: produced tokens billed, quota released', async () => {
  const ac = new AbortController();
  const stream = await client.chat.completions.create(
    {
      model: 'ref-small',
      messages: [{ role: 'user', content: 'long story' }],
      max_tokens: 3000,
      stream: true,
    },
    { signal: ac.signal },
  );
  let id = '';
  let received = 0;
  try {
    for await (const chunk of stream) {
      id = chunk.id;
      received += chunk.choices[0]?.delta.content ? 1 : 0;
      if (received >= 5) ac.abort();
    }
  } catch {
    // the client reports the abort as an error or just ends the iteration
  }
  expect(received).toBeGreaterThanOrEqual(5);
  const done = await s.waitFinished(id);
  expect(done.status).toBe('cancelled');
  expect(done.usage.completion_tokens).toBeGreaterThan(0);
  expect(done.usage.completion_tokens).toBeLessThan(3000);
  expect(await ledgerTokens(id)).toEqual([done.usage.total_tokens]);
  const limits = (await s.call('GET', '/v1/quota')).body.limits;
  expect({ inFlight: limits.max_in_flight.reserved, tokens: limits.tokens_per_day.reserved }).toEqual({
    inFlight: 0,
    tokens: 0,
  });
});

test('a non-streaming client that disconnects cancels too, unless it sent X-Cancel-On-Disconnect: false', async () => {
  const call = async (headers: Record<string, string>): Promise<string> => {
    const ac = new AbortController();
    const res = client.chat.completions
      .create(
        { model: 'ref-small', messages: [{ role: 'user', content: 'long wait' }], max_tokens: 1500 },
        { signal: ac.signal, headers },
      )
      .withResponse()
      .catch((e: unknown) => e);
    // The request id is only in the response, which never comes: find it by its prompt.
    let id: string | undefined;
    for (let i = 0; i < 100 && !id; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const { rows } = await s.pool.query<{ id: string }>(
        `SELECT id FROM requests WHERE tenant_id = $1 AND status = 'running' ORDER BY accepted_at DESC LIMIT 1`,
        [s.tenantId],
      );
      id = rows[0]?.id;
    }
    ac.abort();
    await res;
    return id!;
  };
  const cancelled = await s.waitFinished(await call({}));
  expect(cancelled.status).toBe('cancelled');
  expect(cancelled.usage.completion_tokens).toBeLessThan(1500);
  const kept = await s.waitFinished(await call({ 'X-Cancel-On-Disconnect': 'false' }), 30_000);
  expect(kept).toMatchObject({ status: 'completed', usage: { completion_tokens: 1500 } });
});

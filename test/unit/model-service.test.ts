import { getTokenizer } from '../../src/tokenizer/tokenizer';
import { FAULTS_AUTH, startModelServer } from '../support/model-server';

type Server = Awaited<ReturnType<typeof startModelServer>>;
let m: Server;
afterEach(async () => {
  await m?.stop();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${m.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

test('completions: OpenAI shape, real token counts, deterministic text', async () => {
  m = await startModelServer();
  const tk = getTokenizer();
  const body = { model: 'ref-small', prompt: 'The quick brown fox', max_tokens: 12 };
  const a = (await (await post('/v1/completions', body)).json()) as any;
  expect(a).toMatchObject({
    object: 'text_completion',
    model: 'ref-small',
    choices: [{ index: 0, finish_reason: 'length' }],
  });
  expect(a.usage).toEqual({
    prompt_tokens: tk.count(body.prompt),
    completion_tokens: 12,
    total_tokens: tk.count(body.prompt) + 12,
  });
  expect(tk.count(a.choices[0].text)).toBe(12);
  const b = (await (await post('/v1/completions', body)).json()) as any;
  expect(b.choices[0].text).toBe(a.choices[0].text);
});

test('chat: counts prompt tokens like OpenAI; [[stop:N]] stops early', async () => {
  m = await startModelServer();
  const messages = [{ role: 'user' as const, content: 'hello [[stop:3]]' }];
  const r = (await (
    await post('/v1/chat/completions', { model: 'ref-small', messages, max_tokens: 50 })
  ).json()) as any;
  expect(r.object).toBe('chat.completion');
  expect(r.choices[0]).toMatchObject({ message: { role: 'assistant' }, finish_reason: 'stop' });
  expect(r.usage.prompt_tokens).toBe(getTokenizer().countChat(messages));
  expect(r.usage.completion_tokens).toBe(3);
});

test('streaming: one chunk per token, a usage chunk, then [DONE]', async () => {
  m = await startModelServer();
  const res = await post('/v1/chat/completions', {
    model: 'ref-small',
    messages: [{ role: 'user', content: 'stream' }],
    max_tokens: 5,
    stream: true,
    stream_options: { include_usage: true },
  });
  expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
  const events = (await res.text())
    .split('\n\n')
    .filter(Boolean)
    .map((e) => e.replace(/^data: /, ''));
  expect(events.at(-1)).toBe('[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  expect(chunks.filter((c) => c.choices[0]?.delta?.content)).toHaveLength(5);
  expect(chunks.at(-1).usage.completion_tokens).toBe(5);
  expect(chunks.at(-2).choices[0].finish_reason).toBe('length');
});

test('slots: never more concurrent generations than slots', async () => {
  m = await startModelServer({ slots: 2, decodeMsPerToken: 5 });
  let maxBusy = 0;
  const poll = setInterval(() => (maxBusy = Math.max(maxBusy, m.slots.inUse)), 2);
  await Promise.all(
    Array.from({ length: 6 }, () =>
      post('/v1/completions', { model: 'ref-small', prompt: 'x', max_tokens: 10 }).then((r) => r.json()),
    ),
  );
  clearInterval(poll);
  expect(maxBusy).toBe(2);
  expect(m.stats.by_status['200']).toBe(6);
});

test('a full queue answers 503 with Retry-After', async () => {
  m = await startModelServer({ slots: 1, maxQueue: 0, decodeMsPerToken: 20 });
  const first = post('/v1/completions', { model: 'ref-small', prompt: 'x', max_tokens: 10 });
  await new Promise((r) => setTimeout(r, 30));
  const second = await post('/v1/completions', { model: 'ref-small', prompt: 'y', max_tokens: 10 });
  expect(second.status).toBe(503);
  expect(second.headers.get('retry-after')).toBe('1');
  expect((await first).status).toBe(200);
});

test('a client that disconnects mid-stream frees its slot', async () => {
  m = await startModelServer({ slots: 1, decodeMsPerToken: 10 });
  const ac = new AbortController();
  const res = await fetch(`${m.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'ref-small', prompt: 'x', max_tokens: 1000, stream: true }),
    signal: ac.signal,
  });
  const reader = res.body!.getReader();
  await reader.read();
  ac.abort();
  for (let i = 0; i < 50 && m.stats.in_flight > 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(m.stats).toMatchObject({ in_flight: 0, aborted: 1 });
  expect(m.slots.inUse).toBe(0);
});

test('scripted faults are served in order, then service is normal', async () => {
  m = await startModelServer();
  await fetch(`${m.url}/_faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...FAULTS_AUTH },
    body: JSON.stringify({
      script: [{ kind: 'status', status: 503, retryAfterS: 7, count: 2 }, { kind: 'drop' }],
    }),
  });
  const body = { model: 'ref-small', prompt: 'x', max_tokens: 2 };
  const r1 = await post('/v1/completions', body);
  expect(r1.status).toBe(503);
  expect(r1.headers.get('retry-after')).toBe('7');
  expect((await post('/v1/completions', body)).status).toBe(503);
  await expect(post('/v1/completions', body)).rejects.toThrow();
  expect((await post('/v1/completions', body)).status).toBe(200);
  const state = (await (await fetch(`${m.url}/_faults`, { headers: FAULTS_AUTH })).json()) as any;
  expect(state.served).toEqual({ '503': 2, drop: 1 });
});

test('X-Fault header and errors in OpenAI shape', async () => {
  m = await startModelServer({ contextLength: 100 });
  expect(
    (await post('/v1/completions', { model: 'ref-small', prompt: 'x' }, { 'x-fault': '500' })).status,
  ).toBe(500);
  const unknown = await post('/v1/completions', { model: 'nope', prompt: 'x' });
  expect(unknown.status).toBe(404);
  expect(((await unknown.json()) as any).error.code).toBe('model_not_found');
  const bad = (await (
    await post('/v1/completions', { model: 'ref-small', prompt: 'x', max_tokens: -1 })
  ).json()) as any;
  expect(bad.error).toMatchObject({ type: 'invalid_request_error', param: 'max_tokens' });
  const long = (await (
    await post('/v1/completions', { model: 'ref-small', prompt: 'x', max_tokens: 200 })
  ).json()) as any;
  expect(long.error.code).toBe('context_length_exceeded');
  expect(long.error.message).toMatch(/maximum context length is 100 tokens/);
});

test('KServe v2 generate and generate_stream', async () => {
  m = await startModelServer();
  const r = (await (
    await post('/v2/models/ref-small/generate', { text_input: 'hi', parameters: { max_tokens: 4 } })
  ).json()) as any;
  expect(r.model_name).toBe('ref-small');
  expect(getTokenizer().count(r.text_output)).toBe(4);
  const s = await (
    await post('/v2/models/ref-small/generate_stream', { text_input: 'hi', parameters: { max_tokens: 4 } })
  ).text();
  expect(s.split('\n\n').filter(Boolean)).toHaveLength(4);
});

import { getTokenizer } from '../../../src/tokenizer/tokenizer';
import { sseData, sseStream, startService, waitFor, type Running } from './helpers';

const tk = getTokenizer();
let m: Running;
afterEach(async () => {
  await m?.stop();
});

test('chat stream: role chunk, one chunk per token, finish chunk, usage chunk, [DONE]', async () => {
  m = await startService();
  const messages = [{ role: 'user', content: 'stream please' }];
  const body = { model: 'ref-small', messages, max_tokens: 6 };
  const res = await m.post('/v1/chat/completions', {
    ...body,
    stream: true,
    stream_options: { include_usage: true },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  const events = sseData(await res.text());
  expect(events.at(-1)).toBe('[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  expect(chunks).toHaveLength(1 + 6 + 1 + 1);
  const id = chunks[0].id as string;
  expect(id).toMatch(/^chatcmpl-/);
  for (const c of chunks)
    expect(c).toMatchObject({
      id,
      object: 'chat.completion.chunk',
      model: 'ref-small',
      created: expect.any(Number),
    });
  expect(chunks[0].choices).toEqual([
    { index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
  ]);
  const tokens = chunks.slice(1, 7);
  for (const c of tokens) {
    expect(c.choices).toEqual([
      { index: 0, delta: { content: expect.any(String) }, logprobs: null, finish_reason: null },
    ]);
    expect(c.usage).toBeNull();
  }
  expect(chunks[7].choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: 'length' }]);
  const promptTokens = tk.countChat(messages as any);
  expect(chunks[8]).toMatchObject({
    choices: [],
    usage: { prompt_tokens: promptTokens, completion_tokens: 6, total_tokens: promptTokens + 6 },
  });
  // The streamed text is the non-streamed text, token by token.
  const streamed = tokens.map((c) => c.choices[0].delta.content).join('');
  const whole = (await (await m.post('/v1/chat/completions', body)).json()) as any;
  expect(streamed).toBe(whole.choices[0].message.content);
  for (const c of tokens) expect(tk.count(c.choices[0].delta.content)).toBe(1);
});

test('completion stream: text_completion chunks; no usage chunk unless asked', async () => {
  m = await startService();
  const res = await m.post('/v1/completions', {
    model: 'ref-small',
    prompt: 'x [[stop:4]]',
    max_tokens: 10,
    stream: true,
  });
  const events = sseData(await res.text());
  expect(events.at(-1)).toBe('[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  expect(chunks).toHaveLength(4 + 1);
  for (const c of chunks) {
    expect(c).toMatchObject({ id: expect.stringMatching(/^cmpl-/), object: 'text_completion' });
    expect(c).not.toHaveProperty('usage');
  }
  expect(chunks.slice(0, 4).every((c) => c.choices[0].text && c.choices[0].finish_reason === null)).toBe(
    true,
  );
  expect(chunks[4].choices).toEqual([{ index: 0, text: '', logprobs: null, finish_reason: 'stop' }]);
  expect((await m.stats()).completion_tokens_total).toBe(4);
});

test('tokens are sent as they are decoded, not all at the end', async () => {
  m = await startService({ decodeMsPerToken: 50 });
  const res = await m.post('/v1/completions', {
    model: 'ref-small',
    prompt: 'x',
    max_tokens: 20,
    stream: true,
  });
  const events = sseStream(res.body!);
  const first = await events.next();
  expect(JSON.parse(first.value as string).choices[0].text).toEqual(expect.any(String));
  // The first token is out while most are still to be decoded (20 tokens at 50 ms each).
  expect((await m.stats()).completion_tokens_total).toBeLessThan(20);
  let rest = 0;
  for await (const _ of events) rest++;
  expect(rest).toBe(19 + 1 + 1);
});

test('a client that disconnects mid-stream stops generation and frees its slot at once', async () => {
  m = await startService({ slots: 1, decodeMsPerToken: 10 });
  const ac = new AbortController();
  const res = await m.post(
    '/v1/completions',
    { model: 'ref-small', prompt: 'long', max_tokens: 1000, stream: true },
    { signal: ac.signal },
  );
  const events = sseStream(res.body!);
  await events.next();
  expect((await m.get('/health')).busy).toBe(1);
  ac.abort();
  await waitFor(async () => (await m.stats()).in_flight === 0);
  const s = await m.stats();
  expect(s).toMatchObject({ aborted: 1, in_flight: 0, by_status: {} });
  expect(s.completion_tokens_total).toBeLessThan(1000);
  expect(await m.get('/health')).toMatchObject({ busy: 0, queued: 0 });
  // Generation really stopped: no more tokens are produced.
  const produced = s.completion_tokens_total;
  await new Promise((r) => setTimeout(r, 50));
  expect((await m.stats()).completion_tokens_total).toBe(produced);
  // And the single slot serves the next request.
  expect(
    (await m.post('/v1/completions', { model: 'ref-small', prompt: 'next', max_tokens: 2 })).status,
  ).toBe(200);
});

test('a client that leaves a non-streaming request, or leaves while queued, is counted as aborted', async () => {
  m = await startService({ slots: 1, decodeMsPerToken: 10 });
  const first = new AbortController();
  const queued = new AbortController();
  const a = m.post(
    '/v1/completions',
    { model: 'ref-small', prompt: 'a', max_tokens: 1000 },
    { signal: first.signal },
  );
  await waitFor(async () => (await m.get('/health')).busy === 1);
  const b = m.post(
    '/v1/completions',
    { model: 'ref-small', prompt: 'b', max_tokens: 5 },
    { signal: queued.signal },
  );
  await waitFor(async () => (await m.get('/health')).queued === 1);
  queued.abort();
  await expect(b).rejects.toThrow();
  await waitFor(async () => (await m.get('/health')).queued === 0);
  expect((await m.stats()).aborted).toBe(1);
  first.abort();
  await expect(a).rejects.toThrow();
  await waitFor(async () => (await m.stats()).in_flight === 0);
  expect(await m.stats()).toMatchObject({ aborted: 2, prompt_tokens_total: tk.count('a') });
  expect(await m.get('/health')).toMatchObject({ busy: 0, queued: 0 });
});

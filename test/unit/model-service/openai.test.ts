import { getTokenizer } from '../../../src/tokenizer/tokenizer';
import { startService, type Running } from './helpers';

const tk = getTokenizer('cl100k_base');
let m: Running;
afterEach(async () => {
  await m?.stop();
});

test('completions: OpenAI shape, usage from the tokenizer, text is exactly the tokens generated', async () => {
  m = await startService();
  const body = { model: 'ref-small', prompt: 'The quick brown fox jumps', max_tokens: 12 };
  const res = await m.post('/v1/completions', body);
  expect(res.status).toBe(200);
  const r = (await res.json()) as any;
  expect(r).toEqual({
    id: expect.stringMatching(/^cmpl-[0-9a-f]{32}$/),
    object: 'text_completion',
    created: expect.any(Number),
    model: 'ref-small',
    choices: [{ index: 0, text: expect.any(String), logprobs: null, finish_reason: 'length' }],
    usage: {
      prompt_tokens: tk.countPrompt(body),
      completion_tokens: 12,
      total_tokens: tk.countPrompt(body) + 12,
    },
  });
  expect(tk.count(r.choices[0].text)).toBe(12);
  expect(Math.abs(r.created - Date.now() / 1000)).toBeLessThan(60);
});

test('chat: chat.completion shape, prompt tokens counted like OpenAI', async () => {
  m = await startService();
  const messages = [
    { role: 'system' as const, content: 'You are terse.' },
    { role: 'user' as const, content: 'Say something about GPUs.' },
  ];
  const r = (await (
    await m.post('/v1/chat/completions', { model: 'ref-large', messages, max_tokens: 7 })
  ).json()) as any;
  expect(r).toMatchObject({
    id: expect.stringMatching(/^chatcmpl-/),
    object: 'chat.completion',
    model: 'ref-large',
    choices: [{ index: 0, message: { role: 'assistant' }, finish_reason: 'length' }],
  });
  const promptTokens = tk.countPrompt({ messages });
  expect(promptTokens).toBe(tk.countChat(messages));
  expect(r.usage).toEqual({
    prompt_tokens: promptTokens,
    completion_tokens: 7,
    total_tokens: promptTokens + 7,
  });
  expect(tk.count(r.choices[0].message.content)).toBe(7);
  // max_completion_tokens is the newer name of max_tokens.
  const r2 = (await (
    await m.post('/v1/chat/completions', { model: 'ref-large', messages, max_completion_tokens: 3 })
  ).json()) as any;
  expect(r2.usage.completion_tokens).toBe(3);
});

test('max_tokens defaults to 16; [[stop:N]] stops after N tokens with finish_reason stop', async () => {
  m = await startService();
  const plain = (await (await m.post('/v1/completions', { model: 'ref-small', prompt: 'hi' })).json()) as any;
  expect(plain.usage.completion_tokens).toBe(16);
  const stop = (await (
    await m.post('/v1/completions', { model: 'ref-small', prompt: 'hi [[stop:3]]', max_tokens: 50 })
  ).json()) as any;
  expect(stop.choices[0].finish_reason).toBe('stop');
  expect(stop.usage.completion_tokens).toBe(3);
  expect(tk.count(stop.choices[0].text)).toBe(3);
  // A marker past max_tokens does not matter: max_tokens wins, and the reason is `length`.
  const capped = (await (
    await m.post('/v1/completions', { model: 'ref-small', prompt: 'hi [[stop:30]]', max_tokens: 5 })
  ).json()) as any;
  expect(capped.choices[0].finish_reason).toBe('length');
  expect(capped.usage.completion_tokens).toBe(5);
  const chat = (await (
    await m.post('/v1/chat/completions', {
      model: 'ref-small',
      messages: [{ role: 'user', content: 'short please [[stop:2]]' }],
    })
  ).json()) as any;
  expect(chat.choices[0]).toMatchObject({ finish_reason: 'stop' });
  expect(chat.usage.completion_tokens).toBe(2);
});

test('deterministic: same model, prompt, seed and temperature give the same text', async () => {
  m = await startService();
  const text = async (body: Record<string, unknown>): Promise<string> => {
    const r = (await (
      await m.post('/v1/completions', { model: 'ref-small', prompt: 'determinism', max_tokens: 20, ...body })
    ).json()) as any;
    return r.choices[0].text as string;
  };
  const base = await text({});
  expect(await text({})).toBe(base);
  expect(await text({ model: 'ref-large' })).not.toBe(base);
  expect(await text({ prompt: 'determinism!' })).not.toBe(base);
  const seeded = await text({ seed: 7 });
  expect(seeded).not.toBe(base);
  expect(await text({ seed: 7 })).toBe(seeded);
  const hot = await text({ temperature: 1.5 });
  expect(hot).not.toBe(base);
  expect(await text({ temperature: 1.5 })).toBe(hot);
  // Greedy decoding does not depend on the seed.
  expect(await text({ temperature: 0, seed: 1 })).toBe(await text({ temperature: 0, seed: 2 }));
  // A longer answer starts with the shorter one.
  expect((await text({ max_tokens: 40 })).startsWith(base)).toBe(true);
});

test('GET /v1/models and /v1/models/:id', async () => {
  m = await startService({ models: ['a', 'b'] });
  const list = await m.get('/v1/models');
  expect(list).toEqual({
    object: 'list',
    data: [
      { id: 'a', object: 'model', created: expect.any(Number), owned_by: 'reference' },
      { id: 'b', object: 'model', created: expect.any(Number), owned_by: 'reference' },
    ],
  });
  expect(await m.get('/v1/models/b')).toMatchObject({ id: 'b', object: 'model' });
  const missing = await fetch(`${m.url}/v1/models/c`);
  expect(missing.status).toBe(404);
});

test.each([
  ['/v1/completions', { model: 'ref-small' }, 'prompt', /'prompt' is a required property/],
  ['/v1/completions', { prompt: 'x' }, 'model', /'model' is a required property/],
  ['/v1/completions', { model: 'ref-small', prompt: 5 }, 'prompt', /Invalid 'prompt'/],
  ['/v1/completions', { model: 'ref-small', prompt: 'x', max_tokens: 0 }, 'max_tokens', /max_tokens/],
  ['/v1/completions', { model: 'ref-small', prompt: 'x', max_tokens: -1 }, 'max_tokens', /max_tokens/],
  ['/v1/completions', { model: 'ref-small', prompt: 'x', max_tokens: 1.5 }, 'max_tokens', /max_tokens/],
  ['/v1/completions', { model: 'ref-small', prompt: 'x', max_tokens: '10' }, 'max_tokens', /max_tokens/],
  ['/v1/completions', { model: 'ref-small', prompt: 'x', temperature: 3 }, 'temperature', /temperature/],
  ['/v1/completions', { model: 'ref-small', prompt: 'x', stream: 'yes' }, 'stream', /stream/],
  ['/v1/completions', { model: 'ref-small', prompt: 'x', n: 2 }, 'n', /only n=1/],
  ['/v1/chat/completions', { model: 'ref-small' }, 'messages', /'messages' is a required property/],
  ['/v1/chat/completions', { model: 'ref-small', messages: [] }, 'messages', /messages/],
  [
    '/v1/chat/completions',
    { model: 'ref-small', messages: [{ role: 'user' }] },
    'messages[0].content',
    /'messages\[0\]\.content' is a required property/,
  ],
  [
    '/v1/chat/completions',
    { model: 'ref-small', messages: [{ role: 'robot', content: 'x' }] },
    'messages[0].role',
    /role/,
  ],
])('POST %s %j is a 400 invalid_request_error with param %s', async (path, body, param, message) => {
  m = await startService();
  const res = await m.post(path, body);
  expect(res.status).toBe(400);
  const { error } = (await res.json()) as any;
  expect(error).toEqual({ type: 'invalid_request_error', param, code: null, message: expect.any(String) });
  expect(error.message).toMatch(message);
});

test('a body that is not JSON, or not an object, is a 400', async () => {
  m = await startService();
  const bad = await m.post('/v1/completions', '{"model":');
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as any).error).toMatchObject({ type: 'invalid_request_error', param: null });
  const array = await m.post('/v1/completions', [1, 2]);
  expect(array.status).toBe(400);
  expect(((await array.json()) as any).error.message).toMatch(/JSON object/);
});

test('unknown model is 404 model_not_found; unknown route is 404', async () => {
  m = await startService();
  const res = await m.post('/v1/chat/completions', {
    model: 'gpt-9',
    messages: [{ role: 'user', content: 'x' }],
  });
  expect(res.status).toBe(404);
  expect(((await res.json()) as any).error).toEqual({
    message: 'The model `gpt-9` does not exist.',
    type: 'invalid_request_error',
    param: 'model',
    code: 'model_not_found',
  });
  const route = await m.post('/v1/embeddings', { model: 'ref-small', input: 'x' });
  expect(route.status).toBe(404);
  expect(((await route.json()) as any).error.code).toBe('not_found');
});

test('prompt + max_tokens over the context length is a 400 with vLLM-style message', async () => {
  m = await startService({ contextLength: 100 });
  const prompt = 'word '.repeat(40);
  const promptTokens = tk.count(prompt);
  const ok = await m.post('/v1/completions', { model: 'ref-small', prompt, max_tokens: 100 - promptTokens });
  expect(ok.status).toBe(200);
  const res = await m.post('/v1/completions', { model: 'ref-small', prompt, max_tokens: 101 - promptTokens });
  expect(res.status).toBe(400);
  const { error } = (await res.json()) as any;
  expect(error).toMatchObject({
    type: 'invalid_request_error',
    code: 'context_length_exceeded',
    param: 'prompt',
  });
  expect(error.message).toBe(
    `This model's maximum context length is 100 tokens. However, you requested 101 tokens ` +
      `(${promptTokens} in the messages, ${101 - promptTokens} in the completion). ` +
      `Please reduce the length of the messages or completion.`,
  );
  const chat = await m.post('/v1/chat/completions', {
    model: 'ref-small',
    messages: [{ role: 'user', content: prompt }],
    max_tokens: 90,
  });
  expect(((await chat.json()) as any).error).toMatchObject({
    code: 'context_length_exceeded',
    param: 'messages',
  });
});

test('/_stats counts requests by status and the tokens produced', async () => {
  m = await startService();
  const body = { model: 'ref-small', prompt: 'count me', max_tokens: 9 };
  await m.post('/v1/completions', body);
  await m.post('/v1/chat/completions', {
    model: 'ref-small',
    messages: [{ role: 'user', content: 'x' }],
    max_tokens: 4,
  });
  await m.post('/v1/completions', { ...body, max_tokens: -1 });
  await m.post('/v1/completions', { ...body, model: 'nope' });
  expect(await m.stats()).toEqual({
    requests_total: 4,
    by_status: { 200: 2, 400: 1, 404: 1 },
    prompt_tokens_total: tk.countPrompt(body) + tk.countChat([{ role: 'user', content: 'x' }]),
    completion_tokens_total: 13,
    in_flight: 0,
    aborted: 0,
    dropped: 0,
    peak_busy: 1,
  });
  expect(await m.get('/health')).toEqual({ status: 'ok', slots: 8, busy: 0, queued: 0 });
});

import { getTokenizer } from '../../../src/tokenizer/tokenizer';
import { FAULTS_AUTH } from '../../support/model-server';
import { sseData, startService, waitFor, type Running } from './helpers';

const tk = getTokenizer();
let m: Running;
beforeAll(async () => {
  m = await startService({ contextLength: 200 });
});
afterAll(async () => {
  await m.stop();
});
afterEach(async () => {
  await fetch(`${m.url}/_faults`, { method: 'DELETE', headers: FAULTS_AUTH });
});

const generate = { text_input: 'What is a GPU?', parameters: { max_tokens: 6, temperature: 0.7 } };

test('generate: { model_name, text_output } and no usage; the caller counts the tokens', async () => {
  const before = await m.stats();
  const res = await m.post('/v2/models/ref-small/generate', generate);
  expect(res.status).toBe(200);
  const r = (await res.json()) as any;
  expect(r).toEqual({ model_name: 'ref-small', model_version: '1', text_output: expect.any(String) });
  expect(tk.count(r.text_output)).toBe(6);
  const after = await m.stats();
  expect(after.completion_tokens_total - before.completion_tokens_total).toBe(6);
  expect(after.prompt_tokens_total - before.prompt_tokens_total).toBe(tk.count(generate.text_input));
  // Same input, same text, whichever protocol asked.
  const openai = (await (
    await m.post('/v1/completions', {
      model: 'ref-small',
      prompt: generate.text_input,
      max_tokens: 6,
      temperature: 0.7,
    })
  ).json()) as any;
  expect(openai.choices[0].text).toBe(r.text_output);
});

test('generate_stream: one `data: {"text_output": ...}` event per token', async () => {
  const res = await m.post('/v2/models/ref-small/generate_stream', {
    text_input: 'stream [[stop:4]]',
    parameters: { max_tokens: 10, stream: true },
  });
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const events = sseData(await res.text()).map((e) => JSON.parse(e));
  expect(events).toHaveLength(4);
  for (const e of events)
    expect(e).toEqual({ model_name: 'ref-small', model_version: '1', text_output: expect.any(String) });
  const whole = (await (
    await m.post('/v2/models/ref-small/generate', {
      text_input: 'stream [[stop:4]]',
      parameters: { max_tokens: 10 },
    })
  ).json()) as any;
  expect(events.map((e) => e.text_output).join('')).toBe(whole.text_output);
});

test('health, server and model metadata', async () => {
  expect((await fetch(`${m.url}/v2/health/ready`)).status).toBe(200);
  expect((await fetch(`${m.url}/v2/health/live`)).status).toBe(200);
  expect(await m.get('/v2')).toMatchObject({ extensions: ['generate'] });
  expect(await m.get('/v2/models/ref-large')).toEqual({
    name: 'ref-large',
    versions: ['1'],
    platform: 'reference',
    inputs: [{ name: 'text_input', datatype: 'BYTES', shape: [1] }],
    outputs: [{ name: 'text_output', datatype: 'BYTES', shape: [1] }],
  });
  expect((await fetch(`${m.url}/v2/models/ref-large/ready`)).status).toBe(200);
  const missing = await fetch(`${m.url}/v2/models/nope`);
  expect(missing.status).toBe(404);
  expect(await missing.json()).toEqual({ error: "Request for unknown model: 'nope' is not found" });
});

test("errors in Triton's shape: unknown model, bad body, context length, faults", async () => {
  const unknown = await m.post('/v2/models/nope/generate', generate);
  expect(unknown.status).toBe(404);
  expect(await unknown.json()).toEqual({ error: "Request for unknown model: 'nope' is not found" });
  const bad = await m.post('/v2/models/ref-small/generate', { parameters: {} });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as any).error).toMatch(/text_input/);
  const zero = await m.post('/v2/models/ref-small/generate', {
    text_input: 'x',
    parameters: { max_tokens: 0 },
  });
  expect(zero.status).toBe(400);
  const long = await m.post('/v2/models/ref-small/generate', {
    text_input: 'x',
    parameters: { max_tokens: 500 },
  });
  expect(long.status).toBe(400);
  expect(((await long.json()) as any).error).toMatch(/maximum context length is 200 tokens/);
  const fault = await m.post('/v2/models/ref-small/generate', generate, { headers: { 'x-fault': '503' } });
  expect(fault.status).toBe(503);
  expect(fault.headers.get('retry-after')).toBe('1');
  expect(await fault.json()).toEqual({ error: 'injected fault: HTTP 503' });
});

test('a client that leaves a KServe stream frees the slot', async () => {
  const slow = await startService({ slots: 1, decodeMsPerToken: 10 });
  try {
    const ac = new AbortController();
    const res = await slow.post(
      '/v2/models/ref-small/generate_stream',
      { text_input: 'x', parameters: { max_tokens: 500 } },
      { signal: ac.signal },
    );
    await res.body!.getReader().read();
    ac.abort();
    await waitFor(async () => (await slow.stats()).in_flight === 0);
    expect(await slow.stats()).toMatchObject({ aborted: 1, by_status: {} });
    expect((await slow.stats()).completion_tokens_total).toBeLessThan(500);
    expect((await slow.get('/health')).busy).toBe(0);
  } finally {
    await slow.stop();
  }
});

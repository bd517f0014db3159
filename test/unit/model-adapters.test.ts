import type { AddressInfo } from 'node:net';
import { createModelService } from '../../dev/model-service/create-model-service';
import { KserveV2Adapter } from '../../src/models/kserve-v2-adapter';
import { ModelCallError } from '../../src/models/model-call-error';
import { OpenAiAdapter } from '../../src/models/openai-adapter';
import { getTokenizer } from '../../src/tokenizer/tokenizer';
import { localCounter } from '../../src/tokenizer/token-counter';
import { FAULTS_AUTH, TEST_MODEL_ADMIN_TOKEN, startModelServer } from '../support/model-server';

type Server = Awaited<ReturnType<typeof startModelServer>>;
let m: Server;
beforeAll(async () => {
  m = await startModelServer({ contextLength: 500 });
});
afterAll(async () => {
  await m.stop();
});
afterEach(async () => {
  await fetch(`${m.url}/_faults`, { method: 'DELETE', headers: FAULTS_AUTH });
});

const tokenizer = getTokenizer();
const counter = localCounter();
const openai = () => new OpenAiAdapter({ baseUrl: m.url, model: 'ref-small', timeoutMs: 2000, counter });
const signal = () => new AbortController().signal;

test('OpenAI adapter: completions and chat stream, with usage from the service and progress', async () => {
  const progress: number[] = [];
  const r = await openai().generate(
    { prompt: 'hello', maxTokens: 6, promptTokens: 1 },
    { signal: signal(), onProgress: (n) => progress.push(n) },
  );
  expect(r).toMatchObject({
    usageReported: true,
    finishReason: 'length',
    usage: { prompt_tokens: 1, completion_tokens: 6, total_tokens: 7 },
  });
  expect(progress.at(-1)).toBe(6);
  const chat = await openai().generate(
    { messages: [{ role: 'user', content: 'hi [[stop:2]]' }], maxTokens: 9, promptTokens: 0 },
    { signal: signal() },
  );
  expect(chat).toMatchObject({ finishReason: 'stop', usage: { completion_tokens: 2 } });
});

test('KServe v2 adapter counts tokens itself (the protocol reports none)', async () => {
  const k = new KserveV2Adapter({ baseUrl: m.url, model: 'ref-small', timeoutMs: 2000, counter });
  const r = await k.generate({ prompt: 'hello', maxTokens: 5, promptTokens: 1 }, { signal: signal() });
  expect(r).toMatchObject({
    usageReported: false,
    usage: { prompt_tokens: 1, completion_tokens: 5, total_tokens: 6 },
  });
  expect(tokenizer.count(r.text)).toBe(5);
});

test.each([
  [{ 'x-fault': '503' }, 'model_overloaded', true],
  [{ 'x-fault': '429' }, 'model_overloaded', true],
  [{ 'x-fault': '500' }, 'model_unavailable', true],
  [{ 'x-fault': '400' }, 'model_invalid_request', false],
  [{ 'x-fault': 'drop' }, 'model_unavailable', true],
  [{ 'x-fault': 'hang' }, 'model_timeout', true],
])('fault %j is classified as %s (retryable %s)', async (headers, type, retryable) => {
  const a = new OpenAiAdapter({ baseUrl: m.url, model: 'ref-small', timeoutMs: 500, counter, headers });
  const err = await a
    .generate({ prompt: 'x', maxTokens: 2, promptTokens: 1 }, { signal: signal() })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ModelCallError);
  expect(err).toMatchObject({ type, retryable });
});

test('Retry-After is carried; context-length errors keep the service message', async () => {
  const a = new OpenAiAdapter({
    baseUrl: m.url,
    model: 'ref-small',
    timeoutMs: 2000,
    counter,
    headers: { 'x-fault': '503' },
  });
  const err = (await a
    .generate({ prompt: 'x', maxTokens: 2, promptTokens: 1 }, { signal: signal() })
    .catch((e: unknown) => e)) as ModelCallError;
  expect(err.retryAfterMs).toBe(1000);
  const long = (await openai()
    .generate({ prompt: 'x', maxTokens: 1000, promptTokens: 1 }, { signal: signal() })
    .catch((e: unknown) => e)) as ModelCallError;
  expect(long).toMatchObject({ type: 'model_invalid_request', retryable: false, status: 400 });
  expect(long.message).toMatch(/maximum context length is 500 tokens/);
});

test('connection refused is retryable', async () => {
  const a = new OpenAiAdapter({ baseUrl: 'http://127.0.0.1:1', model: 'x', timeoutMs: 1000, counter });
  await expect(
    a.generate({ prompt: 'x', maxTokens: 1, promptTokens: 1 }, { signal: signal() }),
  ).rejects.toMatchObject({
    type: 'model_unavailable',
    retryable: true,
  });
});

test('calls share kept-alive connections: sequential calls, error answers included, use one', async () => {
  const svc = createModelService({
    prefillMsPerToken: 0,
    decodeMsPerToken: 0,
    adminToken: TEST_MODEL_ADMIN_TOKEN,
  });
  const server = svc.app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  let connections = 0;
  server.on('connection', () => connections++);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const ok = new OpenAiAdapter({ baseUrl: url, model: 'ref-small', timeoutMs: 2000, counter });
    const refused = new OpenAiAdapter({
      baseUrl: url,
      model: 'ref-small',
      timeoutMs: 2000,
      counter,
      headers: { 'x-fault': '503' },
    });
    for (let i = 0; i < 3; i++) {
      const r = await ok.generate(
        { prompt: `call ${i}`, maxTokens: 4, promptTokens: 2 },
        { signal: signal() },
      );
      expect(r.usage.completion_tokens).toBe(4);
      await expect(
        refused.generate({ prompt: 'x', maxTokens: 2, promptTokens: 1 }, { signal: signal() }),
      ).rejects.toMatchObject({ type: 'model_overloaded' });
    }
    expect(connections).toBe(1);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test("a caller's abort mid-stream ends the call at once, as the caller's abort, not a model error", async () => {
  const slow = new OpenAiAdapter({ baseUrl: m.url, model: 'ref-small', timeoutMs: 10_000, counter });
  const ac = new AbortController();
  const started = performance.now();
  const err = await slow
    .generate(
      { prompt: 'long', maxTokens: 400, promptTokens: 1 },
      // 400 tokens at 0.2 ms each would take 80 ms: abort at the first progress report.
      { signal: ac.signal, onProgress: () => ac.abort() },
    )
    .catch((e: unknown) => e);
  // The caller's own reason (AbortController's DOMException), not a classified model failure.
  expect(err).not.toBeInstanceOf(ModelCallError);
  expect((err as Error).name).toBe('AbortError');
  expect(performance.now() - started).toBeLessThan(5000);
  expect(ac.signal.aborted).toBe(true);
});

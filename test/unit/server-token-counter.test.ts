import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { submitBodySchema } from '../../src/inference/submit-schema';
import { AppError } from '../../src/errors/app-error';
import { SubmitService } from '../../src/inference/submit-service';
import { ModelRegistry } from '../../src/models/model-registry';
import { modelSpecSchema } from '../../src/models/model-spec';
import { OpenAiAdapter } from '../../src/models/openai-adapter';
import { TokenCounters } from '../../src/models/token-counters';
import { createLogger } from '../../src/observability/logger';
import { createMetrics } from '../../src/observability/metrics';
import { ServerTokenCounter, type TokenizeApi } from '../../src/tokenizer/server-token-counter';
import { byteUpperBound, localCounter, type TokenCounter } from '../../src/tokenizer/token-counter';
import type { TenantWithLimits } from '../../src/tenants/tenants-repo';

/** A fake model server: records every call, answers with `answer(path, body)` (or hangs on `null`). */
interface Fake {
  url: string;
  calls: { path: string; body: any }[];
  answer: (path: string, body: any) => { status?: number; json?: unknown; sse?: unknown[] } | null;
  server: Server;
}

async function fakeServer(): Promise<Fake> {
  const fake = { calls: [], answer: () => ({ json: {} }) } as unknown as Fake;
  fake.server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = raw ? JSON.parse(raw) : undefined;
      fake.calls.push({ path: req.url!, body });
      const a = fake.answer(req.url!, body);
      if (!a) return; // hangs
      if (a.sse) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const e of a.sse) res.write(`data: ${JSON.stringify(e)}\n\n`);
        res.end('data: [DONE]\n\n');
        return;
      }
      res.writeHead(a.status ?? 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a.json));
    });
  });
  await new Promise<void>((r) => fake.server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
  return fake;
}

let f: Fake;
beforeEach(async () => {
  f = await fakeServer();
});
afterEach(async () => {
  f.server.closeAllConnections();
  await new Promise((r) => f.server.close(r));
});

const tokens = (n: number) => ({ tokens: Array.from({ length: n }, (_, i) => i) });
const counter = (api: TokenizeApi, timeoutMs = 2000, onFallback?: (what: string) => void) =>
  new ServerTokenCounter({
    baseUrl: f.url,
    api,
    model: 'up-model',
    timeoutMs,
    fallback: localCounter(),
    onFallback,
  });
const chat = [
  { role: 'system' as const, content: 'Be brief.' },
  { role: 'user' as const, content: 'こんにちは 👋' },
];

describe('ServerTokenCounter asks each server its way', () => {
  test('llama.cpp: a prompt is tokenized with its special tokens, as /completion does', async () => {
    f.answer = () => ({ json: tokens(7) });
    expect(await counter('llama.cpp').countPrompt({ prompt: 'Hello' })).toEqual({
      tokens: 7,
      source: 'model',
    });
    expect(f.calls).toEqual([
      { path: '/tokenize', body: { content: 'Hello', add_special: true, parse_special: true } },
    ]);
  });

  test('llama.cpp: a chat is rendered by the server template, then tokenized', async () => {
    f.answer = (path) =>
      path === '/apply-template' ? { json: { prompt: '<start_of_turn>user\nhi' } } : { json: tokens(12) };
    expect((await counter('llama.cpp').countPrompt({ messages: chat })).tokens).toBe(12);
    expect(f.calls).toEqual([
      { path: '/apply-template', body: { messages: chat } },
      {
        path: '/tokenize',
        body: { content: '<start_of_turn>user\nhi', add_special: true, parse_special: true },
      },
    ]);
  });

  test('llama.cpp: generated text is counted without special tokens', async () => {
    f.answer = () => ({ json: tokens(3) });
    expect(await counter('llama.cpp').countText('<b>x</b>')).toEqual({ tokens: 3, source: 'model' });
    expect(f.calls[0]!.body).toEqual({ content: '<b>x</b>', add_special: false, parse_special: false });
  });

  test('vLLM: prompt and chat (with the generation prompt) name the model; the answer is {count}', async () => {
    f.answer = (_p, body) => ({ json: { count: body.messages ? 21 : 5, tokens: [1] } });
    expect((await counter('vllm').countPrompt({ prompt: 'Hi' })).tokens).toBe(5);
    expect((await counter('vllm').countPrompt({ messages: chat })).tokens).toBe(21);
    expect(f.calls.map((c) => c.body)).toEqual([
      { model: 'up-model', prompt: 'Hi', add_special_tokens: true },
      { model: 'up-model', messages: chat, add_generation_prompt: true },
    ]);
  });

  test('TGI: /tokenize answers a list of tokens, /chat_tokenize the templated chat', async () => {
    f.answer = (path) =>
      path === '/chat_tokenize'
        ? { json: { tokenize_response: [{ id: 1 }, { id: 2 }, { id: 3 }], templated_text: 'x' } }
        : { json: [{ id: 1 }, { id: 2 }] };
    expect((await counter('tgi').countPrompt({ prompt: 'Hi' })).tokens).toBe(2);
    expect((await counter('tgi').countPrompt({ messages: chat })).tokens).toBe(3);
    expect(f.calls.map((c) => c.path)).toEqual(['/tokenize', '/chat_tokenize']);
  });
});

describe('when the server cannot count', () => {
  test('a prompt reserves its UTF-8 byte bound (never below any byte-level count), reported', async () => {
    f.answer = () => ({ status: 500, json: { error: 'boom' } });
    const seen: string[] = [];
    const c = await counter('llama.cpp', 2000, (w) => seen.push(w)).countPrompt({ messages: chat });
    expect(c).toEqual({ tokens: byteUpperBound({ messages: chat }), source: 'fallback' });
    // 'こんにちは 👋' is 20 UTF-8 bytes: the bound counts each byte.
    expect(c.tokens).toBeGreaterThanOrEqual(20 + 'Be brief.'.length);
    expect(seen).toEqual(['prompt']);
  });

  test('a hung server is given up after the timeout; generated text gets the local estimate', async () => {
    f.answer = () => null;
    const seen: string[] = [];
    const t0 = Date.now();
    const c = await counter('llama.cpp', 200, (w) => seen.push(w)).countText('hello world');
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(c).toEqual({ tokens: 2, source: 'fallback' });
    expect(seen).toEqual(['completion']);
  });

  test('an answer without a count is a failure, not zero tokens', async () => {
    f.answer = () => ({ json: { nope: true } });
    expect((await counter('llama.cpp').countPrompt({ prompt: 'abc' })).source).toBe('fallback');
  });
});

describe('OpenAI adapter billing with the model counter', () => {
  const fixed = (n: number): TokenCounter => ({
    countPrompt: async () => ({ tokens: n, source: 'model' }),
    countText: async () => ({ tokens: n, source: 'model' }),
  });
  const sse = (usage?: object, finish = 'stop') => [
    { choices: [{ text: 'one two three', finish_reason: null }] },
    { choices: [{ text: ' four', finish_reason: finish }] },
    ...(usage ? [{ choices: [], usage }] : []),
  ];
  const adapter = (c: TokenCounter) =>
    new OpenAiAdapter({ baseUrl: f.url, model: 'm', timeoutMs: 2000, counter: c });
  const signal = () => new AbortController().signal;

  test('asks the server for usage in the stream, and bills the usage it sends', async () => {
    f.answer = () => ({ sse: sse({ prompt_tokens: 11, completion_tokens: 4 }) });
    const r = await adapter(fixed(99)).generate(
      { prompt: 'p', maxTokens: 8, promptTokens: 10 },
      { signal: signal() },
    );
    expect(f.calls[0]!.body.stream_options).toEqual({ include_usage: true });
    expect(r).toMatchObject({ usageReported: true, usage: { prompt_tokens: 11, completion_tokens: 4 } });
  });

  test('without usage: the model counter counts the text, and the prompt is the count at submit', async () => {
    f.answer = () => ({ sse: sse() });
    const r = await adapter(fixed(5)).generate(
      { prompt: 'p', maxTokens: 8, promptTokens: 10 },
      { signal: signal() },
    );
    expect(r).toMatchObject({ usageReported: false, usage: { prompt_tokens: 10, completion_tokens: 5 } });
  });

  test('without usage: never more completion tokens than max_tokens', async () => {
    f.answer = () => ({ sse: sse() });
    const r = await adapter(fixed(32)).generate(
      { prompt: 'p', maxTokens: 24, promptTokens: 3 },
      { signal: signal() },
    );
    expect(r.usage.completion_tokens).toBe(24);
  });

  test('without usage, ended by length: exactly max_tokens (the text may re-tokenize to fewer)', async () => {
    f.answer = () => ({ sse: sse(undefined, 'length') });
    const r = await adapter(fixed(7)).generate(
      { prompt: 'p', maxTokens: 8, promptTokens: 3 },
      { signal: signal() },
    );
    expect(r).toMatchObject({ finishReason: 'length', usage: { completion_tokens: 8 } });
  });
});

describe('SubmitService reserves the model count', () => {
  const tenant = { id: 't1', priority: 3 } as unknown as TenantWithLimits;
  const spec = (over: object = {}) =>
    modelSpecSchema.parse({
      name: 'gemma',
      protocol: 'openai',
      base_url: f.url,
      tokenizer: 'server',
      context_length: 64,
      tokenize_timeout_ms: 300,
      ...over,
    });
  const service = (s = spec()) => {
    const registry = new ModelRegistry([s]);
    const metrics = createMetrics('counter-test');
    const logger = createLogger({ component: 'test', level: 'silent' });
    return {
      metrics,
      submit: new SubmitService({
        registry,
        counters: new TokenCounters(registry, { metrics: metrics.registry, logger }),
        metrics,
        logger,
        requestDeadlineS: 60,
        quota: {} as never,
        headroom: {} as never,
        workflows: {} as never,
        requests: {} as never,
      }),
    };
  };
  const body = (prompt: string, max_tokens = 8) =>
    submitBodySchema.parse({ model: 'gemma', prompt, max_tokens });

  test('prompt tokens and the reservation are the server count, not cl100k', async () => {
    f.answer = () => ({ json: tokens(29) });
    const { submit, metrics } = service();
    const input = await submit.prepare(tenant, body('日本語のテキスト'));
    expect(input).toMatchObject({ promptTokens: 29, estimatedTokens: 37 });
    expect(await metrics.registry.getSingleMetricAsString('inference_token_counts_total')).toMatch(
      /model="gemma",what="prompt",source="model",[^}]*} 1/,
    );
  });

  test('over the context by the server count: a 400 naming the field', async () => {
    f.answer = () => ({ json: tokens(60) });
    await expect(service().submit.prepare(tenant, body('short text'))).rejects.toMatchObject({
      type: 'invalid_request_error',
      param: 'max_tokens',
    });
  });

  test('server down and the byte bound may not fit: 503 with Retry-After, nothing counted short', async () => {
    f.answer = () => ({ status: 503, json: {} });
    const err = await service()
      .submit.prepare(tenant, body('x'.repeat(60)))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ type: 'service_unavailable', retryAfterS: 5 });
  });

  test('server down and the byte bound fits: reserved at the bound', async () => {
    f.answer = () => ({ status: 503, json: {} });
    const input = await service().submit.prepare(tenant, body('hi'));
    expect(input.promptTokens).toBe(byteUpperBound({ prompt: 'hi' }));
  });
});

import OpenAI from 'openai';
import { localModelSpec } from '../../dev/stack/local-model';
import { getTokenizer } from '../../src/tokenizer/tokenizer';
import {
  cuttingProxy,
  startTestLlamaServer,
  usageStrippingProxy,
  type LlamaServer,
} from '../support/llama-server';
import {
  closeServer,
  expectChargedOnce,
  expectQuotaMatchesLedger,
  startStack,
  type Stack,
} from '../support/stack';

/**
 * The system against a real model server: llama.cpp's llama-server (built by scripts/local-model.sh)
 * serving Gemma 3 270M Q4_K_M on CPU, registered with `tokenizer: server`. `gemma` is the server
 * itself (it sends usage in streams when asked); `gemma-nousage` is the same server behind a proxy
 * that strips usage, as servers that send none do, so the system must count the model's way.
 */
const SLOTS = 2;
const CONTEXT = 512;
let llama: LlamaServer;
let proxy: Awaited<ReturnType<typeof usageStrippingProxy>>;
let cutter: Awaited<ReturnType<typeof cuttingProxy>>;
let s: Stack;
let client: OpenAI;

beforeAll(async () => {
  llama = await startTestLlamaServer({ name: 'gemma', slots: SLOTS, contextPerSlot: CONTEXT });
  proxy = await usageStrippingProxy(llama.url);
  cutter = await cuttingProxy(llama.url);
  const spec = (name: string, baseUrl: string, gpuTaskQueue: string) => ({
    ...localModelSpec({ name, baseUrl, slots: SLOTS, contextPerSlot: CONTEXT, gpuTaskQueue }),
    max_attempts: 6,
    request_timeout_ms: 60_000,
  });
  s = await startStack({
    extraModels: (q) => [
      spec('gemma', llama.url, q),
      spec('gemma-nousage', proxy.url, q),
      spec('gemma-cut', cutter.url, q),
    ],
  });
  client = new OpenAI({ baseURL: `${s.apiUrl}/v1`, apiKey: s.apiKey, maxRetries: 0 });
}, 20 * 60_000);

afterAll(async () => {
  await s?.stop();
  if (proxy) await closeServer(proxy.server);
  if (cutter) await closeServer(cutter.server);
  await llama?.stop();
});

/** The model server's own usage for a request, asked directly (greedy, so the same text as ours). */
async function serverUsage(
  body: object,
  chat: boolean,
): Promise<{ prompt: number; completion: number; text: string }> {
  const res = await fetch(`${llama.url}/v1/${chat ? 'chat/completions' : 'completions'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gemma', temperature: 0, ...body }),
  });
  const j = (await res.json()) as any;
  return {
    prompt: j.usage.prompt_tokens,
    completion: j.usage.completion_tokens,
    text: chat ? j.choices[0].message.content : j.choices[0].text,
  };
}

/** The server's count of `text` (its /tokenize, no special tokens). */
async function serverCount(text: string): Promise<number> {
  const res = await fetch(`${llama.url}/tokenize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ content: text, add_special: false, parse_special: false }),
  });
  return ((await res.json()) as { tokens: number[] }).tokens.length;
}

const PROMPTS: [string, string][] = [
  ['English', 'The quick brown fox jumps over the lazy dog. Tell me'],
  ['Japanese', '東京は日本の首都です。富士山について教えてください。'],
  ['emoji', '🎉🚀 Party time! 🍕🍔🍟 What should we eat? 😋👍'],
  [
    'Python code',
    'def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\nprint(',
  ],
];

/** Submits on the native API and waits for the end; returns the record (status, usage, output). */
async function run(model: string, body: object): Promise<any> {
  const res = await s.call('POST', '/v1/inference', { model, temperature: 0, ...body });
  expect(res.status).toBe(202);
  return s.waitFinished(res.body.id, 120_000);
}

test('plain completion and chat through the official client: real text, usage as the server counts', async () => {
  const c = await client.completions.create({
    model: 'gemma',
    prompt: 'Once upon a time',
    max_tokens: 12,
    temperature: 0,
  });
  const direct = await serverUsage({ prompt: 'Once upon a time', max_tokens: 12 }, false);
  expect(c.choices[0]!.text.length).toBeGreaterThan(0);
  expect(c.usage).toMatchObject({ prompt_tokens: direct.prompt, completion_tokens: direct.completion });

  const messages = [{ role: 'user' as const, content: 'Name three colours.' }];
  const chat = await client.chat.completions.create({
    model: 'gemma',
    messages,
    max_tokens: 16,
    temperature: 0,
  });
  const directChat = await serverUsage({ messages, max_tokens: 16 }, true);
  expect(chat.choices[0]!.message.content!.length).toBeGreaterThan(0);
  expect(chat.usage!.prompt_tokens).toBe(directChat.prompt);
  await expectQuotaMatchesLedger(s);
});

test.each(['gemma', 'gemma-nousage'])(
  'streaming (%s): text arrives in pieces, and the usage billed is the server count',
  async (model) => {
    const messages = [{ role: 'user' as const, content: 'Write one sentence about the sea.' }];
    const stream = await client.chat.completions.create({
      model,
      messages,
      max_tokens: 20,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let pieces = 0;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta?.content;
      if (piece) {
        text += piece;
        pieces++;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(pieces).toBeGreaterThan(1);
    const direct = await serverUsage({ messages, max_tokens: 20 }, true);
    expect(usage!.prompt_tokens).toBe(direct.prompt);
    // Billed: the server's usage when sent; else exactly max_tokens for a generation ended by length,
    // or the server's count of the text, never below the stream's chunks. Greedy: the same answer as
    // the direct call, so the same count.
    if (text === direct.text) expect(usage!.completion_tokens).toBe(direct.completion);
    else expect(usage!.completion_tokens).toBeGreaterThanOrEqual(Math.min(20, await serverCount(text)));
    expect(usage!.completion_tokens).toBeLessThanOrEqual(20);
    await expectQuotaMatchesLedger(s);
  },
);

test('English, Japanese, emoji and code: prompt and completion billed equal the server count, with and without server usage', async () => {
  const cl100k = getTokenizer('cl100k_base');
  const rows: string[] = [];
  for (const [label, prompt] of PROMPTS) {
    const direct = await serverUsage({ prompt, max_tokens: 8 }, false);
    // The server reports usage: billed as reported, its prompt count reserved at submit.
    const reported = await run('gemma', { prompt, max_tokens: 8 });
    expect(reported.status).toBe('completed');
    expect(reported.usage).toMatchObject({ prompt_tokens: direct.prompt, completion_tokens: 8 });
    // The server's usage is stripped on the way: the system counts the model's way, and must bill
    // exactly what the server counted for that very generation.
    const stripped = proxy.stripped.length;
    const counted = await run('gemma-nousage', { prompt, max_tokens: 8 });
    expect(counted.status).toBe('completed');
    const server = proxy.stripped[stripped]!;
    expect({ label, ...counted.usage }).toMatchObject({
      label,
      prompt_tokens: server.prompt_tokens,
      completion_tokens: server.completion_tokens,
    });
    rows.push(
      `${label}: server ${server.prompt_tokens}+${server.completion_tokens}, ` +
        `cl100k (before) ${cl100k.count(prompt)}+${cl100k.count(counted.output)}, ` +
        `billed (after) ${counted.usage.prompt_tokens}+${counted.usage.completion_tokens}`,
    );
  }
  // The figures of the issue (model server vs the old cl100k count), for the record.
  console.log(`prompt+completion tokens, max_tokens 8:\n${rows.join('\n')}`);
  await expectQuotaMatchesLedger(s);
});

test('a chat answer counted by the model is never billed more than max_tokens', async () => {
  const done = await run('gemma-nousage', {
    messages: [{ role: 'user', content: 'Write a long poem about mountains, rivers and the sky.' }],
    max_tokens: 24,
  });
  expect(done.status).toBe('completed');
  expect(done.usage.completion_tokens).toBeLessThanOrEqual(24);
  expect(done.usage.completion_tokens).toBe(Math.min(24, await serverCount(done.output)));
  await expectQuotaMatchesLedger(s);
});

test('cancel mid-generation: the produced tokens are billed (the model count), nothing stays reserved', async () => {
  const res = await s.call('POST', '/v1/inference', {
    model: 'gemma-nousage',
    prompt: 'List the numbers from one to two hundred in words:',
    max_tokens: 400,
    temperature: 0,
  });
  expect(res.status).toBe(202);
  const id = res.body.id as string;
  // Wait for the first tokens on the live stream, then cancel.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const r = await s.call('GET', `/v1/inference/${id}`);
    if (r.body.status === 'running') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 5000));
  expect((await s.call('POST', `/v1/inference/${id}/cancel`)).status).toBe(202);
  const done = await s.waitFinished(id, 60_000);
  expect(done).toMatchObject({ status: 'cancelled', finish_reason: 'cancelled' });
  expect(done.output.length).toBeGreaterThan(0);
  expect(done.usage.completion_tokens).toBe(Math.min(400, await serverCount(done.output)));
  const limits = (await s.call('GET', '/v1/quota')).body.limits;
  expect(limits.tokens_per_day.reserved).toBe(0);
  await expectChargedOnce(s, id);
});

test('over the context by the model count (under it by cl100k): a clear 400, nothing reserved', async () => {
  const cl100k = getTokenizer('cl100k_base');
  const snippet = '    for i in range(10):\n        if i % 2 == 0:\n            print(i)\n';
  const maxTokens = 8;
  const room = CONTEXT - maxTokens;
  let prompt = '';
  while ((await serverCount(prompt)) <= room) prompt += snippet;
  // By cl100k it would have fit (and been reserved short); by the model's count it does not.
  expect(cl100k.count(prompt)).toBeLessThanOrEqual(room);
  const before = await s.ledgerTotals();
  const res = await s.call('POST', '/v1/inference', { model: 'gemma', prompt, max_tokens: maxTokens });
  expect(res.status).toBe(400);
  expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param: 'max_tokens' });
  expect(res.body.error.message).toMatch(/context length of gemma \(512 tokens\)/);
  const limits = (await s.call('GET', '/v1/quota')).body.limits;
  expect(limits.tokens_per_day.reserved).toBe(0);
  expect(await s.ledgerTotals()).toEqual(before);
});

test('more concurrent requests than the server has slots: all queued and completed', async () => {
  const n = SLOTS * 3;
  const done = await Promise.all(
    Array.from({ length: n }, (_, i) => run('gemma', { prompt: `Count to ${i + 3}:`, max_tokens: 6 })),
  );
  expect(done.map((d) => d.status)).toEqual(Array(n).fill('completed'));
  await expectQuotaMatchesLedger(s);
});

test('the model server killed mid-request and restarted: retried, completed, charged once', async () => {
  const res = await s.call('POST', '/v1/inference', {
    model: 'gemma',
    prompt: 'Tell me a story about a dragon:',
    max_tokens: 48,
    temperature: 0,
  });
  const id = res.body.id as string;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && (await s.call('GET', `/v1/inference/${id}`)).body.status !== 'running')
    await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 500));
  await llama.kill();
  await new Promise((r) => setTimeout(r, 1000));
  await llama.restart();
  const done = await s.waitFinished(id, 240_000);
  expect({ status: done.status, error: done.error, last_error: done.last_error }).toMatchObject({
    status: 'completed',
  });
  expect(done.attempts).toBeGreaterThanOrEqual(2);
  await expectChargedOnce(s, id);
}, 300_000);

test('a chat answer cut mid-stream is continued by the server: one answer, the uninterrupted one', async () => {
  const messages = [{ role: 'user' as const, content: 'Write a short story about a lighthouse keeper.' }];
  const whole = await serverUsage({ messages, max_tokens: 40 }, true);
  cutter.arm(6);
  const { data: stream, response } = await client.chat.completions
    .create({
      model: 'gemma-cut',
      messages,
      max_tokens: 40,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    })
    .withResponse();
  let text = '';
  let restarted = false;
  let usage: unknown;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    if ((chunk as unknown as { x_attempt_restarted?: number }).x_attempt_restarted) restarted = true;
    if (chunk.usage) usage = chunk.usage;
  }
  const id = response.headers.get('x-request-id')!;
  const done = await s.waitFinished(id, 120_000);
  const partial = cutter.sentBeforeCut();
  expect(partial.length).toBeGreaterThan(0);
  // The retry asked llama.cpp to continue the partial answer, for what was left of max_tokens.
  const retried = cutter.bodies.at(-1)!;
  expect(retried).toMatchObject({
    continue_final_message: true,
    add_generation_prompt: false,
    messages: [...messages, { role: 'assistant', content: partial }],
  });
  expect(retried.max_tokens).toBe(40 - (await serverCount(partial)));
  // One answer: what the client read, what is stored, and (greedy) what an uninterrupted call says.
  expect(done).toMatchObject({ status: 'completed', attempts: 2 });
  expect(restarted).toBe(false);
  expect(text).toBe(done.output);
  expect(String(done.output).startsWith(partial)).toBe(true);
  expect(done.output).toBe(whole.text);
  expect(done.usage).toEqual({
    prompt_tokens: whole.prompt,
    completion_tokens: whole.completion,
    total_tokens: whole.prompt + whole.completion,
  });
  expect(usage).toMatchObject({ completion_tokens: whole.completion });
  await expectChargedOnce(s, id);
}, 300_000);

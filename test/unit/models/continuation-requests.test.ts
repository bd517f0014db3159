import { KserveV2Adapter } from '../../../src/models/kserve-v2-adapter';
import type { GenerateRequest, ModelAdapter } from '../../../src/models/model-adapter';
import { OpenAiAdapter, openAiRequestBody } from '../../../src/models/openai-adapter';
import type { ChatMessage } from '../../../src/shared/types';
import { localCounter } from '../../../src/tokenizer/token-counter';
import { startModelServer } from '../../support/model-server';

/** How each adapter asks a server to continue an answer, and that the reference service does. */
const messages: ChatMessage[] = [
  { role: 'system', content: 'be brief' },
  { role: 'user', content: 'tell me about durable inference' },
];

describe('the OpenAI request body of a continuation', () => {
  const req = (r: Partial<GenerateRequest>): GenerateRequest => ({ maxTokens: 40, promptTokens: 5, ...r });

  test('completions: the prompt followed by the partial output, max_tokens as given', () => {
    expect(openAiRequestBody(req({ prompt: 'Once', continuation: ' upon a' }), 'm')).toMatchObject({
      prompt: 'Once upon a',
      max_tokens: 40,
    });
    const body = openAiRequestBody(req({ prompt: 'Once', continuation: ' upon' }), 'm');
    expect(body).not.toHaveProperty('continue_final_message');
    expect(body).not.toHaveProperty('messages');
  });

  test('chat, continue_final_message (vLLM, SGLang): a trailing assistant message, no generation prompt', () => {
    const body = openAiRequestBody(req({ messages, continuation: 'Durable' }), 'm');
    expect(body).toMatchObject({
      messages: [...messages, { role: 'assistant', content: 'Durable' }],
      continue_final_message: true,
      add_generation_prompt: false,
    });
    expect(messages).toHaveLength(2); // the request's own messages are not changed
  });

  test('chat, assistant_prefill (llama.cpp): the trailing assistant message alone', () => {
    const body = openAiRequestBody(req({ messages, continuation: 'Durable' }), 'm', 'assistant_prefill');
    expect(body.messages).toEqual([...messages, { role: 'assistant', content: 'Durable' }]);
    expect(body).not.toHaveProperty('continue_final_message');
    expect(body).not.toHaveProperty('add_generation_prompt');
  });

  test('without a continuation the body is the plain request', () => {
    const body = openAiRequestBody(req({ messages }), 'm');
    expect(body.messages).toEqual(messages);
    expect(body).not.toHaveProperty('continue_final_message');
  });

  test('which adapters can continue', () => {
    const o = { baseUrl: 'http://x', model: 'm', timeoutMs: 1, counter: localCounter() };
    expect(new OpenAiAdapter(o).canContinue(true)).toBe(true);
    expect(new OpenAiAdapter({ ...o, chatContinuation: 'assistant_prefill' }).canContinue(true)).toBe(true);
    expect(new OpenAiAdapter({ ...o, chatContinuation: 'none' }).canContinue(true)).toBe(false);
    expect(new OpenAiAdapter({ ...o, chatContinuation: 'none' }).canContinue(false)).toBe(true);
    expect(new KserveV2Adapter(o).canContinue()).toBe(true);
  });
});

describe('against the reference model service, a continued answer is the uninterrupted one', () => {
  let m: Awaited<ReturnType<typeof startModelServer>>;
  beforeAll(async () => {
    m = await startModelServer({ contextLength: 2000 });
  });
  afterAll(() => m?.stop());
  const counter = localCounter();
  const common = () => ({ baseUrl: m.url, model: 'ref-small', timeoutMs: 5000, counter });
  const signal = () => new AbortController().signal;

  const cases: [string, () => ModelAdapter, Partial<GenerateRequest>][] = [
    ['openai completions', () => new OpenAiAdapter(common()), { prompt: 'Write about queues:' }],
    ['openai chat', () => new OpenAiAdapter(common()), { messages }],
    ['kserve-v2 text', () => new KserveV2Adapter(common()), { prompt: 'Write about queues:' }],
    ['kserve-v2 chat', () => new KserveV2Adapter(common()), { messages }],
  ];
  test.each(cases)('%s', async (_name, make, input) => {
    const adapter = make();
    const max = 60;
    const whole = await adapter.generate({ ...input, maxTokens: max, promptTokens: 5 }, { signal: signal() });
    expect(whole.usage.completion_tokens).toBe(max);
    for (const cut of [1, 17, 59]) {
      const pieces: string[] = [];
      await adapter.generate(
        { ...input, maxTokens: cut, promptTokens: 5 },
        { signal: signal(), onText: (p) => pieces.push(p) },
      );
      const partial = pieces.join('');
      const rest = await adapter.generate(
        { ...input, maxTokens: max - cut, promptTokens: 5, continuation: partial },
        { signal: signal() },
      );
      expect(partial + rest.text).toBe(whole.text);
      expect(rest.usage.completion_tokens).toBe(max - cut);
      expect(rest.finishReason).toBe('length');
    }
  });
});

import { z } from 'zod';
import { storable } from '../db/storable-text';
import type { SubmitBody } from '../inference/submit-schema';
import {
  checkStop,
  METADATA_MAX_KEY_CHARS,
  METADATA_MAX_PAIRS,
  METADATA_MAX_VALUE_CHARS,
} from './openai-limits';
import type { ChatMessage, SamplingParams } from '../shared/types';

/** What this API cannot honour, refused by name rather than silently ignored. */
const unsupported = (what: string) => z.null({ error: `${what} is not supported` }).optional();

const textPart = z.strictObject({ type: z.literal('text'), text: z.string().max(1_000_000) });
const chatMessage = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string().max(1_000_000), z.array(textPart).max(1000)]),
  name: z.string().max(128).optional(),
});

/** Parameters common to both endpoints, with the ranges OpenAI and vLLM accept. */
const common = {
  model: z.string().min(1).max(128),
  max_tokens: z.number().int().positive().max(1_000_000).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  n: z
    .number()
    .int()
    .refine((n) => n === 1, { message: 'only n=1 is supported: send n requests instead' })
    .nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.strictObject({ include_usage: z.boolean().optional() }).nullish(),
  // Bounded by checkStop (count, length, total bytes), which names `stop` or `stop[i]`.
  stop: z
    .union([storable(z.string()), z.array(storable(z.string()))])
    .superRefine(checkStop)
    .nullish(),
  seed: z.number().int().nullish(),
  user: z.string().max(256).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  // vLLM's extra sampling parameters.
  top_k: z.number().int().min(-1).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  repetition_penalty: z.number().gt(0).max(2).nullish(),
  logprobs: z
    .union([z.boolean(), z.number()])
    .refine((v) => v === false || v === 0, { message: 'logprobs are not supported' })
    .nullish(),
  logit_bias: unsupported('logit_bias'),
  // Accepted and not stored; bounded as OpenAI bounds it.
  metadata: z
    .record(z.string().max(METADATA_MAX_KEY_CHARS), z.string().max(METADATA_MAX_VALUE_CHARS))
    .refine((m) => Object.keys(m).length <= METADATA_MAX_PAIRS, {
      message: `at most ${METADATA_MAX_PAIRS} metadata pairs`,
    })
    .nullish(),
};

/** Body of POST /v1/chat/completions. */
export const chatCompletionBody = z.strictObject({
  ...common,
  messages: z.array(chatMessage).min(1).max(1000),
  max_completion_tokens: z.number().int().positive().max(1_000_000).nullish(),
  top_logprobs: unsupported('top_logprobs'),
  response_format: z
    .object({ type: z.string() })
    .refine((f) => f.type === 'text', { message: 'only response_format {"type":"text"} is supported' })
    .nullish(),
  tools: unsupported('tools'),
  tool_choice: unsupported('tool_choice'),
  functions: unsupported('functions'),
  function_call: unsupported('function_call'),
  parallel_tool_calls: z.boolean().nullish(),
  store: z.boolean().nullish(),
});
export type ChatCompletionBody = z.infer<typeof chatCompletionBody>;

/** Body of POST /v1/completions. */
export const completionBody = z.strictObject({
  ...common,
  prompt: z.string().min(1).max(1_000_000),
  echo: z
    .boolean()
    .refine((v) => !v, { message: 'echo is not supported' })
    .nullish(),
  best_of: z
    .number()
    .int()
    .refine((n) => n === 1, { message: 'only best_of=1 is supported' })
    .nullish(),
  suffix: unsupported('suffix'),
});
export type CompletionBody = z.infer<typeof completionBody>;

const contentText = (c: string | { text: string }[]): string =>
  typeof c === 'string' ? c : c.map((p) => p.text).join('');

/** The native submit body and the sampling parameters an OpenAI-style body carries. */
export function toSubmit(body: ChatCompletionBody | CompletionBody): {
  submit: SubmitBody;
  sampling?: SamplingParams;
} {
  const maxTokens =
    ('max_completion_tokens' in body ? body.max_completion_tokens : undefined) ??
    body.max_tokens ??
    undefined;
  const messages: ChatMessage[] | undefined =
    'messages' in body
      ? body.messages.map((m) => ({
          role: m.role === 'developer' ? 'system' : m.role,
          content: contentText(m.content),
        }))
      : undefined;
  const sampling: SamplingParams = {};
  const copy = <K extends keyof SamplingParams>(k: K, v: SamplingParams[K] | null | undefined): void => {
    if (v !== undefined && v !== null) sampling[k] = v;
  };
  copy('top_p', body.top_p);
  copy('top_k', body.top_k);
  copy('min_p', body.min_p);
  copy('seed', body.seed);
  copy('presence_penalty', body.presence_penalty);
  copy('frequency_penalty', body.frequency_penalty);
  copy('repetition_penalty', body.repetition_penalty);
  copy('user', body.user);
  copy('stop', typeof body.stop === 'string' ? [body.stop] : body.stop);
  return {
    submit: {
      model: body.model,
      ...(messages ? { messages } : { prompt: (body as CompletionBody).prompt }),
      ...(maxTokens !== undefined ? { max_tokens: maxTokens } : {}),
      ...(body.temperature !== undefined && body.temperature !== null
        ? { temperature: body.temperature }
        : {}),
    },
    ...(Object.keys(sampling).length > 0 ? { sampling } : {}),
  };
}

import { z } from 'zod';
import { storable } from '../../db/storable-text';
import type { SubmitBody } from '../../inference/submit-schema';
import type { ChatMessage, SamplingParams } from '../../shared/types';
import { METADATA_MAX_KEY_CHARS, METADATA_MAX_PAIRS, METADATA_MAX_VALUE_CHARS } from '../openai-limits';

/** What this API cannot honour, refused by name rather than silently ignored. */
const unsupported = (what: string) => z.null({ error: `${what} is not supported` }).optional();

const text = storable(z.string().max(1_000_000));
const inputPart = z.strictObject({
  type: z.enum(['input_text', 'output_text']),
  text,
  // Sent back by clients that pass an earlier response's output as input.
  annotations: z.array(z.unknown()).max(0).optional(),
  logprobs: z.array(z.unknown()).max(0).optional(),
});
/** One input item: a message (`type` may be left out, as OpenAI allows). */
const inputMessage = z.strictObject({
  type: z.literal('message').optional(),
  id: z.string().max(128).optional(),
  status: z.string().max(32).optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([text, z.array(inputPart).min(1).max(1000)]),
});

const inputText = storable(z.string().min(1).max(1_000_000));
const inputList = z.array(inputMessage).min(1).max(1000);

/**
 * `input`: a string, or a list of messages. Parsed by the branch its JSON type picks, so an error
 * names the field at fault (`input[0].role`), where a union would name only `input`.
 */
const inputSchema = z
  .unknown()
  .transform((v, ctx): z.infer<typeof inputText> | z.infer<typeof inputList> => {
    const r = (Array.isArray(v) ? inputList : inputText).safeParse(v);
    if (r.success) return r.data;
    for (const i of r.error.issues) ctx.addIssue({ code: 'custom', message: i.message, path: i.path });
    return z.NEVER;
  })
  .describe('a string (one user message), or a list of messages `{role, content}`');

/** Body of POST /v1/responses (a text response: no tools, no conversation state). */
export const responseBody = z.strictObject({
  model: z.string().min(1).max(128),
  input: inputSchema,
  instructions: text.nullish(),
  max_output_tokens: z.number().int().positive().max(1_000_000).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  seed: z.number().int().nullish(),
  user: z.string().max(256).nullish(),
  metadata: z
    .record(z.string().max(METADATA_MAX_KEY_CHARS), z.string().max(METADATA_MAX_VALUE_CHARS))
    .refine((m) => Object.keys(m).length <= METADATA_MAX_PAIRS, {
      message: `at most ${METADATA_MAX_PAIRS} metadata pairs`,
    })
    .nullish(),
  stream: z.boolean().nullish(),
  background: z.boolean().nullish(),
  /** @default true (as OpenAI's) */
  store: z.boolean().nullish(),
  text: z.strictObject({ format: z.strictObject({ type: z.literal('text') }).optional() }).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  tool_choice: z
    .literal('none', { error: 'tool_choice is not supported (no tools)' })
    .or(z.literal('auto'))
    .nullish(),
  tools: z
    .array(z.unknown())
    .refine((t) => t.length === 0, { message: 'tools are not supported' })
    .nullish(),
  truncation: z.literal('disabled', { error: 'only truncation "disabled" is supported' }).nullish(),
  previous_response_id: unsupported('previous_response_id'),
  conversation: unsupported('conversation'),
  reasoning: unsupported('reasoning'),
  include: unsupported('include'),
  prompt: unsupported('prompt'),
  top_logprobs: unsupported('top_logprobs'),
  max_tool_calls: unsupported('max_tool_calls'),
  service_tier: z.enum(['auto', 'default']).nullish(),
});
export type ResponseBody = z.infer<typeof responseBody>;

/** An input item as stored and listed (GET /v1/responses/:id/input_items), in OpenAI's shape. */
export interface InputItem {
  id: string;
  type: 'message';
  role: 'user' | 'assistant' | 'system' | 'developer';
  status: 'completed';
  content: { type: 'input_text' | 'output_text'; text: string }[];
}

/**
 * What a response keeps beside its request, sealed at rest (its `instructions` and input are a
 * prompt): echoed in the response object and listed by input_items.
 */
export interface StoredResponseRequest {
  instructions: string | null;
  input: InputItem[];
  max_output_tokens: number | null;
  temperature: number | null;
  top_p: number | null;
}

/** A Responses request turned into what the accept path takes, and what the response keeps. */
export interface ResponseAcceptInput {
  /** The chat request to the model: instructions as the system message, then the input items. */
  submit: SubmitBody;
  sampling?: SamplingParams;
  /** Kept in the `responses` row. */
  stored: StoredResponseRequest;
  metadata: Record<string, string>;
  background: boolean;
  store: boolean;
}

/** `msg_<hex>_<i>`: an input item's id, from its response's request id. */
export const inputItemId = (requestHex: string, i: number): string => `msg_${requestHex}_in${i}`;

const partsOf = (c: string | { type: 'input_text' | 'output_text'; text: string }[], role: string) =>
  typeof c === 'string'
    ? [{ type: role === 'assistant' ? ('output_text' as const) : ('input_text' as const), text: c }]
    : c.map((p) => ({ type: p.type, text: p.text }));

/**
 * Turns a parsed `POST /v1/responses` body into the accept path's input: a chat request (the
 * instructions as the system message, then each input message; `developer` is `system` to the
 * model), the sampling parameters, and what the response row keeps. Exported for the Batch API's
 * `/v1/responses` lines, which accept each line through the same path.
 */
export function toResponseAccept(body: ResponseBody): ResponseAcceptInput {
  const items: Omit<InputItem, 'id'>[] =
    typeof body.input === 'string'
      ? [{ type: 'message', role: 'user', status: 'completed', content: partsOf(body.input, 'user') }]
      : body.input.map((m) => ({
          type: 'message',
          role: m.role,
          status: 'completed',
          content: partsOf(m.content, m.role),
        }));
  const messages: ChatMessage[] = [
    ...(body.instructions ? [{ role: 'system' as const, content: body.instructions }] : []),
    ...items.map((m) => ({
      role: m.role === 'developer' ? ('system' as const) : m.role,
      content: m.content.map((p) => p.text).join(''),
    })),
  ];
  const sampling: SamplingParams = {};
  if (body.top_p != null) sampling.top_p = body.top_p;
  if (body.seed != null) sampling.seed = body.seed;
  if (body.user != null) sampling.user = body.user;
  return {
    submit: {
      model: body.model,
      messages,
      ...(body.max_output_tokens != null ? { max_tokens: body.max_output_tokens } : {}),
      ...(body.temperature != null ? { temperature: body.temperature } : {}),
    },
    ...(Object.keys(sampling).length > 0 ? { sampling } : {}),
    stored: {
      instructions: body.instructions ?? null,
      // Ids are given once the request id is known (withItemIds).
      input: items as InputItem[],
      max_output_tokens: body.max_output_tokens ?? null,
      temperature: body.temperature ?? null,
      top_p: body.top_p ?? null,
    },
    metadata: body.metadata ?? {},
    background: body.background === true,
    store: body.store !== false,
  };
}

/** The stored request with each input item's id (`msg_<request hex>_in<i>`). */
export function withItemIds(requestId: string, stored: StoredResponseRequest): StoredResponseRequest {
  const hex = requestId.replace(/^inf_/, '');
  return { ...stored, input: stored.input.map((m, i) => ({ ...m, id: inputItemId(hex, i) })) };
}

/**
 * The Responses field a parameter of the chat request names: the accept path checks the chat
 * request it was given (`max_tokens`, `messages[i].content`), and the client should hear of the
 * field it sent (`max_output_tokens`, `instructions`, `input[j].content`).
 */
export function responseParamOf(param: string, a: ResponseAcceptInput, inputIsString: boolean): string {
  if (param === 'max_tokens') return 'max_output_tokens';
  if (param === 'messages') return 'input';
  const m = /^messages\[(\d+)\](.*)$/.exec(param);
  if (!m) return param;
  const offset = a.stored.instructions ? 1 : 0;
  const i = Number(m[1]) - offset;
  if (i < 0) return 'instructions';
  return inputIsString ? 'input' : `input[${i}]${m[2]}`;
}

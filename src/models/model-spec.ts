import { z } from 'zod';
import { DEFAULT_GPU_TASK_QUEUE } from '../contract/temporal-contract';
import { TOKENIZE_APIS } from '../tokenizer/server-token-counter';
import { TOKENIZER_FAMILIES } from '../tokenizer/tokenizer';

/** What the registry's `tokenizer` can name: a BPE family counted in process, or the model server. */
export const MODEL_TOKENIZERS = [...TOKENIZER_FAMILIES, 'server'] as const;

/** How a model server continues a chat answer (see `chat_continuation`). */
export const CHAT_CONTINUATIONS = ['continue_final_message', 'assistant_prefill', 'none'] as const;
export type ChatContinuation = (typeof CHAT_CONTINUATIONS)[number];

/** One model as the registry declares it. */
export const modelSpecSchema = z.strictObject({
  /** Name clients use in `model`. */
  name: z.string().regex(/^[A-Za-z0-9._:/-]{1,128}$/),
  /** Wire protocol of the model service. */
  protocol: z.enum(['openai', 'kserve-v2']),
  /** Base URL of the service (without /v1 or /v2). */
  base_url: z.url(),
  /** Model name at the service, when it differs from `name`. @default name */
  upstream_model: z.string().min(1).optional(),
  /** Header sent on every call, e.g. `{ name: Authorization, value_env: OPENAI_API_KEY, prefix: "Bearer " }`. */
  auth_header: z
    .strictObject({
      name: z.string().min(1),
      /** Env var holding the secret (read by the GPU worker at start, never stored in the registry). */
      value_env: z.string().min(1),
      prefix: z.string().default(''),
    })
    .optional(),
  /** Temporal task queue served by the GPU workers of this model. @default gpu-default */
  gpu_task_queue: z.string().min(1).default(DEFAULT_GPU_TASK_QUEUE),
  /** Concurrent calls per GPU worker for this model. @default 8 */
  gpu_slots_per_worker: z.number().int().positive().default(8),
  /** Timeout of one call, in milliseconds. @default 120000 */
  request_timeout_ms: z.number().int().positive().default(120_000),
  /** Attempts before a transient failure becomes final. @default 5 */
  max_attempts: z.number().int().positive().default(5),
  /** Context window: prompt + max_tokens must fit. @default 8192 */
  context_length: z.number().int().positive().default(8192),
  /**
   * How tokens are counted: `cl100k_base`/`o200k_base` in process (exact for OpenAI models, an
   * estimate for others), or `server`: the model server's own tokenize endpoint (`tokenize_api`),
   * chat template included, for prompts at submit and for generated text the server sends no usage
   * for. @default cl100k_base
   */
  tokenizer: z.enum(MODEL_TOKENIZERS).default('cl100k_base'),
  /** The server's tokenize endpoint, for `tokenizer: server`. @default llama.cpp */
  tokenize_api: z.enum(TOKENIZE_APIS).default('llama.cpp'),
  /** Longest wait for one tokenize call, in milliseconds. @default 5000 */
  tokenize_timeout_ms: z.number().int().positive().default(5000),
  /**
   * How a chat answer cut short by a failed attempt is continued by the next attempt (completions and
   * KServe continue from prompt + partial output on every server):
   * `continue_final_message`: the partial answer as a trailing assistant message with
   * `continue_final_message: true, add_generation_prompt: false` (vLLM, SGLang, llama.cpp's server:
   * each continues the answer exactly, greedy decoding giving the uninterrupted text);
   * `assistant_prefill`: the trailing assistant message alone (servers that refuse those fields;
   * llama.cpp's server then echoes the prefill first, which is dropped); `none`: the answer
   * restarts from the prompt (hosted APIs).
   * @default continue_final_message
   */
  chat_continuation: z.enum(CHAT_CONTINUATIONS).default('continue_final_message'),
  /** Default max_tokens when the request gives none. @default 256 */
  default_max_tokens: z.number().int().positive().default(256),
  /**
   * Reservation in slices: a request reserves its prompt plus this many completion tokens at accept
   * (at most its max_tokens), and the GPU worker extends the reservation by this many more as
   * tokens stream; generation stops (`finish_reason: length`, `stop_reason: quota_exhausted`) where
   * the tenant's token limits refuse an extension. 0 reserves the whole max_tokens up front (no
   * extensions: the behaviour before slices). @default 256
   */
  reserve_slice_tokens: z.number().int().min(0).default(256),
  /**
   * Longest prompt accepted, in characters (UTF-16 code units; for `messages`, every content
   * together). A longer one is a 400 before it is tokenized or quota is looked at.
   * @default context_length × MAX_PROMPT_CHARS_PER_TOKEN (16)
   */
  max_prompt_chars: z.number().int().positive().optional(),
});
export type ModelSpec = z.infer<typeof modelSpecSchema>;

/**
 * Characters per token that no prompt worth running reaches: prose and code average 3–5, and only
 * long runs of one repeated character (128 spaces, a line of dashes) pack more into a token. A
 * prompt over context_length × 16 characters is refused without tokenizing it; one under it is still
 * tokenized and checked against the context length exactly.
 */
export const MAX_PROMPT_CHARS_PER_TOKEN = 16;

/** The model's prompt size bound in characters: `max_prompt_chars`, else context_length × 16. */
export function maxPromptChars(spec: ModelSpec): number {
  return spec.max_prompt_chars ?? spec.context_length * MAX_PROMPT_CHARS_PER_TOKEN;
}

/**
 * Completion tokens a request of `maxTokens` reserves at accept: its first slice
 * (`reserve_slice_tokens`), or the whole max_tokens when slices are off or larger.
 */
export function firstSliceTokens(spec: Pick<ModelSpec, 'reserve_slice_tokens'>, maxTokens: number): number {
  const slice = spec.reserve_slice_tokens;
  return slice > 0 ? Math.min(maxTokens, slice) : maxTokens;
}

export const registryFileSchema = z.strictObject({
  models: z.array(modelSpecSchema).min(1),
});

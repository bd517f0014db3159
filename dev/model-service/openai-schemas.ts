import { z } from 'zod';

const maxTokens = z.number().int().positive();

const common = {
  model: z.string().min(1),
  max_tokens: maxTokens.optional(),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  seed: z.number().int().optional(),
  n: z.literal(1, { error: 'only n=1 is supported' }).optional(),
  stream: z.boolean().optional(),
  stream_options: z.strictObject({ include_usage: z.boolean().optional() }).nullish(),
};

/** Body of `POST /v1/completions` (fields this service does not use are ignored). */
export const completionBody = z.object({ ...common, prompt: z.string() });
export type CompletionBody = z.infer<typeof completionBody>;

/**
 * Body of `POST /v1/chat/completions`; `max_completion_tokens` is OpenAI's newer name of max_tokens.
 * `continue_final_message` (with `add_generation_prompt: false`) continues a trailing assistant
 * message instead of answering after it, as vLLM does.
 */
export const chatBody = z.object({
  ...common,
  max_completion_tokens: maxTokens.optional(),
  continue_final_message: z.boolean().optional(),
  add_generation_prompt: z.boolean().optional(),
  messages: z
    .array(
      z.object({
        role: z.enum(['system', 'user', 'assistant', 'tool']),
        content: z.string(),
      }),
    )
    .min(1),
});
export type ChatBody = z.infer<typeof chatBody>;

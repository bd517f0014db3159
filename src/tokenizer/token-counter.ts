import type { ChatMessage } from '../shared/types';
import { getTokenizer, type PromptInput, type Tokenizer, type TokenizerFamily } from './tokenizer';

/** Options of {@link TokenCounter.countPrompt}. */
export interface CountPromptOptions {
  /**
   * The caller needs to know only whether the prompt is over this: a local count stops there (the
   * result is then some number above it). @default Infinity
   */
  limit?: number;
}

/** How a count was obtained: the model's own (`model`), or an estimate while that was unavailable. */
export type CountSource = 'model' | 'local' | 'fallback';

/** A count and where it came from. */
export interface TokenCount {
  tokens: number;
  source: CountSource;
}

/**
 * Counts tokens the way one model does. The API counts prompts with it at submit (the reservation)
 * and the GPU worker counts generated text with it when the model service reports no usage.
 */
export interface TokenCounter {
  /** Prompt tokens of a raw prompt or a chat conversation (chat template included). */
  countPrompt(input: PromptInput, opts?: CountPromptOptions): Promise<TokenCount>;
  /** Tokens of generated text (no special tokens added). */
  countText(text: string): Promise<TokenCount>;
}

/** A BPE family counted in process (gpt-tokenizer): exact for OpenAI models, an estimate for others. */
export class LocalTokenCounter implements TokenCounter {
  constructor(readonly tokenizer: Tokenizer) {}

  async countPrompt(input: PromptInput, opts: CountPromptOptions = {}): Promise<TokenCount> {
    return { tokens: await this.tokenizer.countPromptAsync(input, { limit: opts.limit }), source: 'local' };
  }

  async countText(text: string): Promise<TokenCount> {
    return { tokens: await this.tokenizer.countAsync(text), source: 'local' };
  }
}

/** The in-process counter of a BPE family (shared tables). */
export function localCounter(family: TokenizerFamily = 'cl100k_base'): LocalTokenCounter {
  return new LocalTokenCounter(getTokenizer(family));
}

/** Tokens every chat message may add around its content in a chat template (role, turn markers). */
export const TEMPLATE_TOKENS_PER_MESSAGE = 16;
/** Tokens a chat template may add once (BOS, the reply primer). */
export const TEMPLATE_TOKENS_PER_PROMPT = 16;

const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');

/**
 * An upper bound of any byte-level tokenizer's count (Llama, Gemma, Qwen, Mistral, GPT: every
 * token but a special one stands for at least one byte of the text): the UTF-8 bytes, plus the
 * special tokens a template adds. Used as the reservation when the model's own count is
 * unavailable, so a reservation is never below what the model will count.
 */
export function byteUpperBound(input: PromptInput): number {
  if (!input.messages) return utf8(input.prompt ?? '') + TEMPLATE_TOKENS_PER_PROMPT;
  return input.messages.reduce(
    (n, m: ChatMessage) => n + utf8(m.role) + utf8(m.content) + TEMPLATE_TOKENS_PER_MESSAGE,
    TEMPLATE_TOKENS_PER_PROMPT,
  );
}

import {
  CL100K_TOKEN_SPLIT_REGEX,
  O200K_TOKEN_SPLIT_REGEX,
} from 'gpt-tokenizer/cjs/encodingParams/constants';
import type { ChatMessage } from '../shared/types';
import { boundedUnits } from './bounded-units';

/** Tokenizer families a model can declare in the registry. */
export const TOKENIZER_FAMILIES = ['cl100k_base', 'o200k_base'] as const;
export type TokenizerFamily = (typeof TOKENIZER_FAMILIES)[number];

interface Encoding {
  encode(text: string): number[];
  decode(tokens: Iterable<number>): string;
  countTokens(text: string, opts?: { disallowedSpecial?: Set<string> }): number;
}

/** A rank table's module, loaded synchronously (the constructor is synchronous) and cached by Node. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = (id: string): Encoding => require(id) as Encoding;

/**
 * Each family's rank table is loaded on first use: resident, cl100k_base costs about 32 MiB and
 * o200k_base about 53 MiB, and most deployments use one family.
 */
const families: Record<TokenizerFamily, () => { enc: Encoding; split: RegExp }> = {
  cl100k_base: () => ({
    enc: load('gpt-tokenizer/cjs/encoding/cl100k_base'),
    split: CL100K_TOKEN_SPLIT_REGEX,
  }),
  o200k_base: () => ({ enc: load('gpt-tokenizer/cjs/encoding/o200k_base'), split: O200K_TOKEN_SPLIT_REGEX }),
};

/**
 * Special-token strings (`<|endoftext|>`) in a prompt are counted as the ordinary text they are:
 * the library's default throws on them, which turned such a prompt into a 500.
 */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/** Tokens every chat message costs beyond its content, and the reply primer (OpenAI's accounting). */
export const CHAT_TOKENS_PER_MESSAGE = 4;
export const CHAT_REPLY_PRIMER_TOKENS = 3;

/** Options for the asynchronous counts of {@link Tokenizer}. */
export interface CountAsyncOptions {
  /** Longest the event loop is held between two yields, in milliseconds. @default 2 */
  sliceMs?: number;
  /**
   * Stop as soon as the running count exceeds this: the result is then some number above `limit`
   * rather than the exact count (enough to refuse a prompt that cannot fit, without counting all of it).
   * @default Infinity
   */
  limit?: number;
}

/** A prompt: raw text or a chat conversation. */
export interface PromptInput {
  prompt?: string;
  messages?: readonly ChatMessage[];
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A real BPE tokenizer for one family; the API, the model adapters and the reference service share
 * it. Counting is linear in the text length (long pieces are cut, see bounded-units.ts) and exact
 * on ordinary text; the `*Async` counts also hand the event loop back every few milliseconds.
 */
export class Tokenizer {
  private readonly enc: Encoding;
  private readonly split: RegExp;

  constructor(readonly family: TokenizerFamily = 'cl100k_base') {
    const { enc, split } = families[family]();
    this.enc = enc;
    this.split = split;
  }

  /** Tokens of `text`, in time linear in its length; holds the event loop for all of it. */
  count(text: string): number {
    let total = 0;
    for (const unit of boundedUnits(text, this.split)) total += this.enc.countTokens(unit, PLAIN_TEXT);
    return total;
  }

  /** Same as {@link count}, yielding to the event loop every `sliceMs` (use it for untrusted input). */
  countAsync(text: string, opts: CountAsyncOptions = {}): Promise<number> {
    return this.sum([text], 0, opts);
  }

  encode(text: string): number[] {
    return this.enc.encode(text);
  }

  decode(tokens: readonly number[]): string {
    return this.enc.decode(tokens);
  }

  /** Prompt tokens of a chat conversation, counted the way OpenAI-style servers count them. */
  countChat(messages: readonly ChatMessage[]): number {
    let total = CHAT_REPLY_PRIMER_TOKENS;
    for (const m of messages) total += CHAT_TOKENS_PER_MESSAGE + this.count(m.role) + this.count(m.content);
    return total;
  }

  /** Prompt tokens of either a raw prompt or a chat conversation. */
  countPrompt(input: PromptInput): number {
    return input.messages ? this.countChat(input.messages) : this.count(input.prompt ?? '');
  }

  /** {@link countPrompt}, yielding to the event loop every `sliceMs`. */
  countPromptAsync(input: PromptInput, opts: CountAsyncOptions = {}): Promise<number> {
    if (!input.messages) return this.countAsync(input.prompt ?? '', opts);
    const texts = input.messages.flatMap((m) => [m.role, m.content]);
    const overhead = CHAT_REPLY_PRIMER_TOKENS + CHAT_TOKENS_PER_MESSAGE * input.messages.length;
    return this.sum(texts, overhead, opts);
  }

  private async sum(texts: readonly string[], base: number, opts: CountAsyncOptions): Promise<number> {
    const sliceMs = opts.sliceMs ?? 2;
    const limit = opts.limit ?? Infinity;
    let total = base;
    let since = performance.now();
    for (const text of texts) {
      for (const unit of boundedUnits(text, this.split)) {
        total += this.enc.countTokens(unit, PLAIN_TEXT);
        if (total > limit) return total;
        if (performance.now() - since >= sliceMs) {
          await yieldToEventLoop();
          since = performance.now();
        }
      }
    }
    return total;
  }
}

const cache = new Map<TokenizerFamily, Tokenizer>();

/** Shared tokenizer instance per family (the BPE tables are large; load once). */
export function getTokenizer(family: TokenizerFamily = 'cl100k_base'): Tokenizer {
  let t = cache.get(family);
  if (!t) {
    t = new Tokenizer(family);
    cache.set(family, t);
  }
  return t;
}

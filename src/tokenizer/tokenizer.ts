import * as cl100k from 'gpt-tokenizer/cjs/encoding/cl100k_base';
import * as o200k from 'gpt-tokenizer/cjs/encoding/o200k_base';
import type { ChatMessage } from '../shared/types';

/** Tokenizer families a model can declare in the registry. */
export const TOKENIZER_FAMILIES = ['cl100k_base', 'o200k_base'] as const;
export type TokenizerFamily = (typeof TOKENIZER_FAMILIES)[number];

interface Encoding {
  encode(text: string): number[];
  decode(tokens: Iterable<number>): string;
  countTokens(text: string): number;
}

const encodings: Record<TokenizerFamily, Encoding> = { cl100k_base: cl100k, o200k_base: o200k };

/** Tokens every chat message costs beyond its content, and the reply primer (OpenAI's accounting). */
export const CHAT_TOKENS_PER_MESSAGE = 4;
export const CHAT_REPLY_PRIMER_TOKENS = 3;

/** A real BPE tokenizer for one family; the API, the model adapters and the reference service share it. */
export class Tokenizer {
  private readonly enc: Encoding;

  constructor(readonly family: TokenizerFamily = 'cl100k_base') {
    this.enc = encodings[family];
  }

  count(text: string): number {
    return this.enc.countTokens(text);
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
  countPrompt(input: { prompt?: string; messages?: readonly ChatMessage[] }): number {
    return input.messages ? this.countChat(input.messages) : this.count(input.prompt ?? '');
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

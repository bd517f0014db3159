import { createHash } from 'node:crypto';
import type { Tokenizer } from '../../src/tokenizer/tokenizer';

/**
 * Words of the generated text. Each, with its leading space, is a single cl100k_base and o200k_base
 * token, so cutting the text at any token boundary re-tokenizes to the same count (clients that count
 * tokens themselves, like the KServe adapter, then agree with the service).
 */
export const WORDS: readonly string[] = (
  'the a model token GPU server request answer quickly slowly durable workflow tenant quota batch ' +
  'stream latency decode cache kernel tensor layer attention memory throughput queue retry signal ' +
  'worker activity history replay result usage ledger window limit fair priority scale warm cold ' +
  'fast slow small large time work data'
).split(' ');

/** What the deterministic output depends on. */
export interface GenerationInput {
  model: string;
  /** The prompt (for chat, a serialization of the messages). */
  prompt: string;
  /** Ignored at temperature 0, like greedy decoding. */
  seed?: number;
  temperature?: number;
}

/** `[[stop:N]]` in a prompt makes generation stop after N tokens with finish_reason "stop". */
export function stopAfter(prompt: string): number | undefined {
  const m = /\[\[stop:(\d+)\]\]/.exec(prompt);
  return m ? Number(m[1]) : undefined;
}

/** mulberry32: small, fast, and the same on every platform. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seed of the PRNG: a hash of everything the output may depend on. */
function seedOf(input: GenerationInput): number {
  const temperature = input.temperature ?? 1;
  const seed = temperature === 0 ? 0 : (input.seed ?? 0);
  return createHash('sha256')
    .update(JSON.stringify([input.model, input.prompt, seed, temperature]))
    .digest()
    .readUInt32LE(0);
}

/**
 * Exactly `count` token ids of deterministic text: sentences of words from {@link WORDS}, picked by a
 * PRNG seeded from (model, prompt, seed, temperature). The same input always yields the same tokens.
 */
export function generateTokens(tokenizer: Tokenizer, input: GenerationInput, count: number): number[] {
  const rand = prng(seedOf(input));
  const tokens: number[] = [];
  while (tokens.length < count) {
    const length = 4 + Math.floor(rand() * 12);
    const words = Array.from({ length }, () => WORDS[Math.floor(rand() * WORDS.length)] ?? 'the');
    tokens.push(...tokenizer.encode(` ${words.join(' ')}.`));
  }
  return tokens.slice(0, count);
}

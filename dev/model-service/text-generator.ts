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

/** Where an answer resumes: the prompt its text depends on and how many of its tokens exist already. */
export interface AnswerStart {
  prompt: string;
  /** Tokens of the answer already written (a continuation); 0 for a new answer. */
  skip: number;
}

/** The first `n` tokens of the answer to `input` decode to `text`. */
function answerStartsWith(tokenizer: Tokenizer, input: GenerationInput, tokens: number[]): boolean {
  const answer = generateTokens(tokenizer, input, tokens.length);
  return answer.every((t, i) => t === tokens[i]);
}

/**
 * A chat continued from a trailing assistant message (`continue_final_message`): when `partial` is
 * how the answer to `input` begins, the answer goes on after it, exactly as if it had never been cut
 * (a server with greedy decoding does the same). Otherwise the partial text is just part of the
 * prompt of a new answer.
 */
export function resumeChat(tokenizer: Tokenizer, input: GenerationInput, partial: string): AnswerStart {
  const tokens = tokenizer.encode(partial);
  if (tokens.length > 0 && answerStartsWith(tokenizer, input, tokens))
    return { prompt: input.prompt, skip: tokens.length };
  return { prompt: `${input.prompt}${JSON.stringify(['assistant', partial])}`, skip: 0 };
}

/** Candidate split points a completion prompt is searched at, at most (the trailing ones). */
const MAX_RESUME_CANDIDATES = 4096;

/**
 * A completion whose prompt is an earlier prompt followed by the beginning of its answer (prompt +
 * partial output): the answer goes on after it, as {@link resumeChat}. The split is searched among
 * the prompt's trailing tokens that look like generated text (words and full stops), longest
 * partial first; a first-token check rejects most candidates cheaply. No split: a new answer.
 */
export function resumeCompletion(tokenizer: Tokenizer, input: GenerationInput): AnswerStart {
  const ids = tokenizer.encode(input.prompt);
  let start = ids.length;
  while (start > 0 && /^[ .A-Za-z]+$/.test(tokenizer.decode([ids[start - 1]!]))) start--;
  for (let s = Math.max(start, 1, ids.length - MAX_RESUME_CANDIDATES); s < ids.length; s++) {
    const base = { ...input, prompt: tokenizer.decode(ids.slice(0, s)) };
    const rest = ids.slice(s);
    if (generateTokens(tokenizer, base, 1)[0] !== rest[0]) continue;
    if (answerStartsWith(tokenizer, base, rest)) return { prompt: base.prompt, skip: rest.length };
  }
  return { prompt: input.prompt, skip: 0 };
}

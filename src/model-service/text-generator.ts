import { createHash } from 'node:crypto';
import type { Tokenizer } from '../tokenizer/tokenizer';

const WORDS = (
  'the a model token GPU server request answer quickly slowly durable workflow tenant quota batch ' +
  'stream latency decode prefill cache kernel tensor layer attention memory throughput queue retry ' +
  'signal worker activity history replay result usage ledger window limit fair priority scale'
).split(' ');

/** A small deterministic PRNG (mulberry32). */
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

/** `[[stop:N]]` in a prompt makes generation stop after N tokens with finish_reason "stop". */
export function stopAfter(prompt: string): number | undefined {
  const m = /\[\[stop:(\d+)\]\]/.exec(prompt);
  return m ? Number(m[1]) : undefined;
}

/**
 * Exactly `count` token ids of deterministic text for (model, prompt, seed, temperature): the same
 * input always yields the same tokens.
 */
export function generateTokens(
  tokenizer: Tokenizer,
  input: { model: string; prompt: string; seed?: number; temperature?: number },
  count: number,
): number[] {
  const h = createHash('sha256')
    .update(`${input.model}\0${input.prompt}\0${input.seed ?? 0}\0${input.temperature ?? 1}`)
    .digest();
  const rand = prng(h.readUInt32LE(0));
  const tokens: number[] = [];
  while (tokens.length < count) {
    const words: string[] = [];
    for (let i = 0; i < 64; i++) words.push(WORDS[Math.floor(rand() * WORDS.length)]!);
    tokens.push(...tokenizer.encode(` ${words.join(' ')}.`));
  }
  return tokens.slice(0, count);
}

import type { ChatMessage } from '../shared/types';
import type { PromptInput } from './tokenizer';
import {
  byteUpperBound,
  type CountPromptOptions,
  type LocalTokenCounter,
  type TokenCount,
  type TokenCounter,
} from './token-counter';

/** Tokenize APIs of the model servers: how to ask each for a prompt's, a chat's and a text's count. */
export const TOKENIZE_APIS = ['llama.cpp', 'vllm', 'tgi'] as const;
export type TokenizeApi = (typeof TOKENIZE_APIS)[number];

/** Options of {@link ServerTokenCounter}. */
export interface ServerTokenCounterOptions {
  /** Base URL of the model server (without /v1). */
  baseUrl: string;
  api: TokenizeApi;
  /** Model name at the server (vLLM needs it). */
  model: string;
  headers?: Record<string, string>;
  /** Longest wait for one count, in milliseconds. */
  timeoutMs: number;
  /** Counts generated text when the server cannot (an estimate, logged and counted as a fallback). */
  fallback: LocalTokenCounter;
  /** Called when the server could not count, with why. */
  onFallback?: (what: 'prompt' | 'completion', error: Error) => void;
}

/** Thrown when the server answered but not with a count. */
export class TokenizeError extends Error {
  override readonly name = 'TokenizeError';
}

interface Call {
  path: string;
  body: unknown;
}

/** The request that counts `input` (prompt or chat with its template) at each server. */
function promptCalls(api: TokenizeApi, model: string, input: PromptInput): Call[] {
  const messages: readonly ChatMessage[] | undefined = input.messages;
  switch (api) {
    case 'llama.cpp':
      // As llama-server's own /completion and /v1/chat/completions tokenize their prompt: special
      // tokens added (BOS) and parsed; a chat is first rendered with the model's template.
      return messages
        ? [{ path: '/apply-template', body: { messages } }]
        : [
            {
              path: '/tokenize',
              body: { content: input.prompt ?? '', add_special: true, parse_special: true },
            },
          ];
    case 'vllm':
      return [
        messages
          ? { path: '/tokenize', body: { model, messages, add_generation_prompt: true } }
          : { path: '/tokenize', body: { model, prompt: input.prompt ?? '', add_special_tokens: true } },
      ];
    case 'tgi':
      return [
        messages
          ? { path: '/chat_tokenize', body: { model, messages } }
          : { path: '/tokenize', body: { inputs: input.prompt ?? '' } },
      ];
  }
}

/** The request that counts generated text (no special tokens added). */
function textCall(api: TokenizeApi, model: string, text: string): Call {
  switch (api) {
    case 'llama.cpp':
      return { path: '/tokenize', body: { content: text, add_special: false, parse_special: false } };
    case 'vllm':
      return { path: '/tokenize', body: { model, prompt: text, add_special_tokens: false } };
    case 'tgi':
      return { path: '/tokenize', body: { inputs: text, add_special_tokens: false } };
  }
}

/** Token count of a tokenize answer: `{tokens: [...]}`, `{count}`, a bare array, or TGI's chat shape. */
export function countOf(answer: unknown): number {
  if (Array.isArray(answer)) return answer.length;
  if (answer && typeof answer === 'object') {
    const a = answer as Record<string, unknown>;
    if (typeof a.count === 'number' && Number.isInteger(a.count) && a.count >= 0) return a.count;
    if (Array.isArray(a.tokens)) return a.tokens.length;
    if (Array.isArray(a.tokenize_response)) return a.tokenize_response.length;
  }
  throw new TokenizeError(`tokenize answer has no count: ${JSON.stringify(answer).slice(0, 200)}`);
}

/**
 * Counts with the model server's own tokenizer (its /tokenize endpoint, the chat template applied
 * the server's way), so reservations and bills match what the model counts.
 *
 * Bounded: every call has a timeout; the prompt it is given was already bounded in characters by
 * the caller (max_prompt_chars); the call is asynchronous I/O, so other requests go on meanwhile.
 * When the server does not answer, a prompt is counted by {@link byteUpperBound} (never below the
 * model's count) and generated text by the local estimate; both are reported through `onFallback`.
 */
export class ServerTokenCounter implements TokenCounter {
  private readonly base: string;

  constructor(private readonly opts: ServerTokenCounterOptions) {
    this.base = opts.baseUrl.replace(/\/$/, '');
  }

  async countPrompt(input: PromptInput, _opts: CountPromptOptions = {}): Promise<TokenCount> {
    try {
      return { tokens: await this.serverPromptCount(input), source: 'model' };
    } catch (err) {
      this.opts.onFallback?.('prompt', err as Error);
      return { tokens: byteUpperBound(input), source: 'fallback' };
    }
  }

  async countText(text: string): Promise<TokenCount> {
    if (text === '') return { tokens: 0, source: 'model' };
    try {
      const call = textCall(this.opts.api, this.opts.model, text);
      return { tokens: countOf(await this.post(call)), source: 'model' };
    } catch (err) {
      this.opts.onFallback?.('completion', err as Error);
      return { tokens: (await this.opts.fallback.countText(text)).tokens, source: 'fallback' };
    }
  }

  /** The server's count of a prompt; throws when it cannot give one. */
  async serverPromptCount(input: PromptInput): Promise<number> {
    const [call] = promptCalls(this.opts.api, this.opts.model, input);
    const answer = await this.post(call!);
    if (this.opts.api === 'llama.cpp' && input.messages) {
      const prompt = (answer as { prompt?: unknown } | null)?.prompt;
      if (typeof prompt !== 'string') throw new TokenizeError('apply-template answered no prompt');
      return countOf(
        await this.post({
          path: '/tokenize',
          body: { content: prompt, add_special: true, parse_special: true },
        }),
      );
    }
    return countOf(answer);
  }

  private async post(call: Call): Promise<unknown> {
    const res = await fetch(`${this.base}${call.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.opts.headers },
      body: JSON.stringify(call.body),
      signal: AbortSignal.timeout(this.opts.timeoutMs),
    });
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      throw new TokenizeError(`${call.path} answered ${res.status}: ${text.slice(0, 200)}`);
    }
    return res.json();
  }
}

import type { ModelCallResult } from '../shared/types';
import type { ChatContinuation } from './model-spec';
import type { TokenCounter } from '../tokenizer/token-counter';
import type { GenerateOptions, GenerateRequest, ModelAdapter } from './model-adapter';
import { streamJson } from './http-call';
import { PrefillEcho } from './prefill-echo';

/** Options for {@link OpenAiAdapter}. */
export interface OpenAiAdapterOptions {
  /** Base URL without `/v1`. */
  baseUrl: string;
  /** Model name sent to the service. */
  model: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  /** Counts completion tokens (the model's way) when the service reports no usage. */
  counter: TokenCounter;
  /** How the service continues a chat answer (registry `chat_continuation`). @default continue_final_message */
  chatContinuation?: ChatContinuation;
}

/**
 * The JSON body of one call. A continuation is the prompt followed by the partial output for
 * completions; for chat, the partial answer as a trailing assistant message, which vLLM and SGLang
 * continue with `continue_final_message` (and no new generation prompt) and llama.cpp's server
 * continues by default (assistant prefill).
 */
export function openAiRequestBody(
  req: GenerateRequest,
  model: string,
  chatContinuation: ChatContinuation = 'continue_final_message',
): Record<string, unknown> {
  const chat = req.messages !== undefined;
  const cont = req.continuation;
  const input = chat
    ? { messages: cont ? [...req.messages!, { role: 'assistant', content: cont }] : req.messages }
    : { prompt: cont ? `${req.prompt ?? ''}${cont}` : req.prompt };
  return {
    model,
    ...input,
    ...req.sampling,
    ...(chat && cont && chatContinuation === 'continue_final_message'
      ? { continue_final_message: true, add_generation_prompt: false }
      : {}),
    max_tokens: req.maxTokens,
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    stream: true,
    stream_options: { include_usage: true },
  };
}

interface StreamChunk {
  choices?: { text?: string; delta?: { content?: string }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string };
}

/**
 * OpenAI-compatible completions and chat (vLLM, TGI, SGLang, llama.cpp, Ollama, hosted APIs).
 * Streams so progress can be heartbeated and a cancel aborts generation on the server.
 */
export class OpenAiAdapter implements ModelAdapter {
  constructor(private readonly opts: OpenAiAdapterOptions) {}

  async generate(
    req: GenerateRequest,
    { signal, onProgress, onText }: GenerateOptions,
  ): Promise<ModelCallResult> {
    const chat = req.messages !== undefined;
    const url = `${this.opts.baseUrl.replace(/\/$/, '')}/v1/${chat ? 'chat/completions' : 'completions'}`;
    const body = openAiRequestBody(req, this.opts.model, this.opts.chatContinuation);
    let text = '';
    let chunks = 0;
    let finishReason = 'stop';
    let reported: { prompt_tokens?: number; completion_tokens?: number } | undefined;
    const opts = { headers: this.opts.headers ?? {}, signal, timeoutMs: this.opts.timeoutMs };
    const echo = new PrefillEcho(
      chat && this.opts.chatContinuation === 'assistant_prefill' ? (req.continuation ?? '') : '',
    );
    const emit = (piece: string): void => {
      if (!piece) return;
      text += piece;
      onText?.(piece);
      onProgress?.(++chunks);
    };
    await streamJson<StreamChunk>(url, body, opts, (chunk) => {
      if (chunk.usage) reported = chunk.usage;
      const choice = chunk.choices?.[0];
      emit(echo.push(choice?.text ?? choice?.delta?.content ?? ''));
      if (choice?.finish_reason) finishReason = choice.finish_reason;
    });
    emit(echo.flush());
    const usageReported = typeof reported?.completion_tokens === 'number';
    const prompt = reported?.prompt_tokens ?? req.promptTokens;
    const completion = usageReported
      ? reported!.completion_tokens!
      : completionWithoutUsage({
          finishReason,
          chunks,
          maxTokens: req.maxTokens,
          counted: await this.countTokens(text),
        });
    return {
      text,
      finishReason,
      usageReported,
      usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
    };
  }

  canContinue(chat: boolean): boolean {
    return !chat || (this.opts.chatContinuation ?? 'continue_final_message') !== 'none';
  }

  async countTokens(text: string): Promise<number> {
    return (await this.opts.counter.countText(text)).tokens;
  }
}

/**
 * Completion tokens of a stream that carried no usage. A generation ended by `length` produced
 * exactly `max_tokens`. Otherwise the text counted the model's way, but never fewer than the
 * stream's non-empty chunks (each carries at least one generated token: re-tokenizing generated
 * text can merge two tokens into one, e.g. runs of spaces in code) and never more than `max_tokens`.
 */
export function completionWithoutUsage(c: {
  finishReason: string;
  chunks: number;
  maxTokens: number;
  counted: number;
}): number {
  if (c.finishReason === 'length') return c.maxTokens;
  return Math.min(c.maxTokens, Math.max(c.counted, c.chunks));
}

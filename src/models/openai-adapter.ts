import { ErrorType } from '../shared/error-types';
import type { ModelCallResult } from '../shared/types';
import type { Tokenizer } from '../tokenizer/tokenizer';
import type { GenerateOptions, GenerateRequest, ModelAdapter } from './model-adapter';
import { ModelCallError } from './model-call-error';
import { classifyFetchError, postJson, sseData } from './http-call';

/** Options for {@link OpenAiAdapter}. */
export interface OpenAiAdapterOptions {
  /** Base URL without `/v1`. */
  baseUrl: string;
  /** Model name sent to the service. */
  model: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  /** Counts completion tokens when the service reports no usage. */
  tokenizer: Tokenizer;
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

  async generate(req: GenerateRequest, { signal, onProgress }: GenerateOptions): Promise<ModelCallResult> {
    const chat = req.messages !== undefined;
    const url = `${this.opts.baseUrl.replace(/\/$/, '')}/v1/${chat ? 'chat/completions' : 'completions'}`;
    const body = {
      model: this.opts.model,
      ...(chat ? { messages: req.messages } : { prompt: req.prompt }),
      max_tokens: req.maxTokens,
      ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
      stream: true,
      stream_options: { include_usage: true },
    };
    const res = await postJson(url, body, {
      headers: this.opts.headers ?? {},
      signal,
      timeoutMs: this.opts.timeoutMs,
    });
    if (!res.body)
      throw new ModelCallError(ErrorType.ModelBadResponse, 'model service sent an empty body', true);

    let text = '';
    let chunks = 0;
    let finishReason = 'stop';
    let reported: { prompt_tokens?: number; completion_tokens?: number } | undefined;
    try {
      for await (const data of sseData(res.body)) {
        if (data === '[DONE]') break;
        const chunk = JSON.parse(data) as StreamChunk;
        if (chunk.error) {
          throw new ModelCallError(
            ErrorType.ModelUnavailable,
            `model service error mid-stream: ${chunk.error.message}`,
            true,
          );
        }
        if (chunk.usage) reported = chunk.usage;
        const choice = chunk.choices?.[0];
        if (!choice) continue;
        const piece = choice.text ?? choice.delta?.content ?? '';
        if (piece) {
          text += piece;
          chunks++;
          onProgress?.(chunks);
        }
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
    } catch (err) {
      if (err instanceof SyntaxError) {
        throw new ModelCallError(
          ErrorType.ModelBadResponse,
          `model service sent invalid JSON: ${err.message}`,
          true,
        );
      }
      throw classifyFetchError(err, url, signal);
    }
    const usageReported = typeof reported?.completion_tokens === 'number';
    const prompt = reported?.prompt_tokens ?? req.promptTokens;
    const completion = usageReported ? reported!.completion_tokens! : this.opts.tokenizer.count(text);
    return {
      text,
      finishReason,
      usageReported,
      usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
    };
  }
}

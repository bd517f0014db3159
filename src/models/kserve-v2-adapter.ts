import type { ModelCallResult, SamplingParams } from '../shared/types';
import type { TokenCounter } from '../tokenizer/token-counter';
import type { GenerateOptions, GenerateRequest, ModelAdapter } from './model-adapter';
import { streamJson } from './http-call';

/** Options for {@link KserveV2Adapter}. */
export interface KserveV2AdapterOptions {
  /** Base URL without `/v2`. */
  baseUrl: string;
  /** Model name at the server. */
  model: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  /** The v2 generate protocol reports no usage: tokens are counted with this counter. */
  counter: TokenCounter;
}

/** Flattens chat messages for servers that only take text (Triton's generate extension). */
export function chatToText(messages: { role: string; content: string }[]): string {
  return `${messages.map((m) => `${m.role}: ${m.content}`).join('\n')}\nassistant:`;
}

/**
 * KServe v2 / Triton generate extension (`/v2/models/{model}/generate_stream`), as served by Triton
 * with the TensorRT-LLM or vLLM backend.
 */
export class KserveV2Adapter implements ModelAdapter {
  constructor(private readonly opts: KserveV2AdapterOptions) {}

  async generate(
    req: GenerateRequest,
    { signal, onProgress, onText }: GenerateOptions,
  ): Promise<ModelCallResult> {
    const url = `${this.opts.baseUrl.replace(/\/$/, '')}/v2/models/${encodeURIComponent(this.opts.model)}/generate_stream`;
    const body = {
      // The generate extension takes text: a continuation is the text followed by the partial output.
      text_input: `${req.messages ? chatToText(req.messages) : (req.prompt ?? '')}${req.continuation ?? ''}`,
      parameters: {
        // Triton's TensorRT-LLM / vLLM backends take the sampling names as parameters (not `user`).
        ...withoutUser(req.sampling),
        max_tokens: req.maxTokens,
        stream: true,
        ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
      },
    };
    let text = '';
    let pieces = 0;
    const opts = { headers: this.opts.headers ?? {}, signal, timeoutMs: this.opts.timeoutMs };
    await streamJson<{ text_output?: string; error?: string }>(url, body, opts, (chunk) => {
      if (chunk.text_output) {
        text += chunk.text_output;
        onText?.(chunk.text_output);
        onProgress?.(++pieces);
      }
    });
    const completion = Math.min(req.maxTokens, await this.countTokens(text));
    return {
      text,
      finishReason: completion >= req.maxTokens ? 'length' : 'stop',
      usageReported: false,
      usage: {
        prompt_tokens: req.promptTokens,
        completion_tokens: completion,
        total_tokens: req.promptTokens + completion,
      },
    };
  }

  canContinue(): boolean {
    return true;
  }

  async countTokens(text: string): Promise<number> {
    return (await this.opts.counter.countText(text)).tokens;
  }
}

function withoutUser(s: SamplingParams | undefined): Omit<SamplingParams, 'user'> {
  const copy = { ...s };
  delete copy.user;
  return copy;
}

import type { ChatMessage, ModelCallResult, SamplingParams } from '../shared/types';

/** What an adapter sends to a model service. */
export interface GenerateRequest {
  prompt?: string;
  messages?: ChatMessage[];
  maxTokens: number;
  temperature?: number;
  /** Passed through to the service as given. */
  sampling?: SamplingParams;
  /** Prompt tokens counted at submit (the model's way); used when the service reports no usage. */
  promptTokens: number;
  /**
   * Output an earlier attempt already produced: the service continues it (completions: prompt +
   * this; chat: this as a trailing assistant message) and `maxTokens` is what is left. The result
   * holds only the continuation; its usage is the service's for this call (the repeated prefill
   * included). Only set where {@link ModelAdapter.canContinue} says so.
   */
  continuation?: string;
}

/** Options of one call. */
export interface GenerateOptions {
  /** Aborts the HTTP call (activity cancelled, worker draining, timeout). */
  signal: AbortSignal;
  /** Called as tokens arrive, with the count so far (for heartbeats). */
  onProgress?: (completionTokens: number) => void;
  /** Called with each piece of generated text, so a caller keeps the output of a call that fails. */
  onText?: (piece: string) => void;
}

/** One model-service protocol. Errors are thrown as ModelCallError. */
export interface ModelAdapter {
  generate(req: GenerateRequest, opts: GenerateOptions): Promise<ModelCallResult>;
  /**
   * Whether a cut-short answer of this kind (chat or not) can be continued by the service; when not,
   * a retried attempt generates the answer again from the prompt.
   */
  canContinue(chat: boolean): boolean;
  /** Tokens of `text` counted the model's way (for output the service did not account for). */
  countTokens(text: string): Promise<number>;
}

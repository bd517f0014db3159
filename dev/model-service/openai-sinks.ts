import type { Response } from 'express';
import type { Usage } from '../../src/shared/types';
import type { GenerationResult, GenerationSink } from './generation';
import { sseEvent, startSse } from './sse';

/** What every object of one answer shares. */
export interface OpenAiAnswerMeta {
  id: string;
  created: number;
  model: string;
  chat: boolean;
  promptTokens: number;
}

function usage(promptTokens: number, completionTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

/** A whole `text_completion` or `chat.completion` object. */
export function completionObject(meta: OpenAiAnswerMeta, result: GenerationResult): Record<string, unknown> {
  return {
    id: meta.id,
    object: meta.chat ? 'chat.completion' : 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: [
      meta.chat
        ? {
            index: 0,
            message: { role: 'assistant', content: result.text },
            logprobs: null,
            finish_reason: result.finishReason,
          }
        : { index: 0, text: result.text, logprobs: null, finish_reason: result.finishReason },
    ],
    usage: usage(meta.promptTokens, result.completionTokens),
  };
}

/** Answers with one JSON object once generation is done. */
export function openAiJsonSink(res: Response, meta: OpenAiAnswerMeta): GenerationSink {
  return {
    start: () => undefined,
    token: () => undefined,
    finish: (result) => void res.json(completionObject(meta, result)),
  };
}

/**
 * Streams as OpenAI does: (chat: a first chunk with the role), one chunk per token, a chunk with the
 * finish_reason, with `include_usage` a chunk with empty choices and the usage (and `usage: null` on
 * every other chunk), then `data: [DONE]`.
 */
export function openAiStreamSink(
  res: Response,
  meta: OpenAiAnswerMeta,
  includeUsage: boolean,
): GenerationSink {
  const chunk = (choice: Record<string, unknown> | undefined, u: Usage | null = null): unknown => ({
    id: meta.id,
    object: meta.chat ? 'chat.completion.chunk' : 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: choice ? [choice] : [],
    ...(includeUsage ? { usage: u } : {}),
  });
  const choice = (piece: string, finishReason: string | null, role = false): Record<string, unknown> =>
    meta.chat
      ? {
          index: 0,
          delta: role ? { role: 'assistant', content: '' } : piece ? { content: piece } : {},
          logprobs: null,
          finish_reason: finishReason,
        }
      : { index: 0, text: piece, logprobs: null, finish_reason: finishReason };
  return {
    start: () => {
      startSse(res);
      if (meta.chat) sseEvent(res, chunk(choice('', null, true)));
    },
    token: (piece) => sseEvent(res, chunk(choice(piece, null))),
    finish: (result) => {
      sseEvent(res, chunk(choice('', result.finishReason)));
      if (includeUsage) sseEvent(res, chunk(undefined, usage(meta.promptTokens, result.completionTokens)));
      sseEvent(res, '[DONE]');
      res.end();
    },
  };
}

import type { RequestRecord } from '../requests/requests-repo';

/** What a response is built from: a request's output, finish reason and usage. */
export type ResponseSource = Pick<RequestRecord, 'output' | 'finishReason' | 'usage'>;
import type { Usage } from '../shared/types';

/** Which OpenAI endpoint a response belongs to. */
export type OpenAiKind = 'chat' | 'text';

/** Fields every response and chunk of one request shares. */
export interface ResponseHead {
  id: string;
  model: string;
  /** Unix seconds of acceptance. */
  created: number;
}

/** OpenAI reports these finish reasons; ours map onto them, anything else passes as is. */
const FINISH: Record<string, string> = {
  stop: 'stop',
  length: 'length',
  cancelled: 'stop',
  timeout: 'length',
};
const finish = (r: string | null | undefined): string => (r ? (FINISH[r] ?? r) : 'stop');

const usageOf = (u: Usage | undefined | null): Usage =>
  u ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };

/** The non-streaming response (`chat.completion` or `text_completion`) of a finished request. */
export function completionResponse(
  kind: OpenAiKind,
  head: ResponseHead,
  row: ResponseSource,
): Record<string, unknown> {
  const text = row.output ?? '';
  const reason = finish(row.finishReason);
  return {
    id: head.id,
    object: kind === 'chat' ? 'chat.completion' : 'text_completion',
    created: head.created,
    model: head.model,
    choices: [
      kind === 'chat'
        ? { index: 0, message: { role: 'assistant', content: text }, finish_reason: reason, logprobs: null }
        : { index: 0, text, finish_reason: reason, logprobs: null },
    ],
    usage: usageOf(row.usage),
  };
}

/** One streamed chunk: text (`finishReason` undefined), the closing chunk, or the usage chunk. */
export function completionChunk(
  kind: OpenAiKind,
  head: ResponseHead,
  part: { text?: string; role?: boolean; finishReason?: string | null; usage?: Usage | null },
): Record<string, unknown> {
  const finishReason = part.finishReason === undefined ? null : finish(part.finishReason);
  const choices =
    part.usage !== undefined
      ? []
      : [
          kind === 'chat'
            ? {
                index: 0,
                delta: {
                  ...(part.role ? { role: 'assistant' } : {}),
                  ...(part.text !== undefined ? { content: part.text } : {}),
                },
                finish_reason: finishReason,
                logprobs: null,
              }
            : { index: 0, text: part.text ?? '', finish_reason: finishReason, logprobs: null },
        ];
  return {
    id: head.id,
    object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
    created: head.created,
    model: head.model,
    choices,
    ...(part.usage !== undefined ? { usage: usageOf(part.usage) } : {}),
  };
}

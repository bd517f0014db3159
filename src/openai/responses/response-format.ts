import type { RequestRecord } from '../../requests/requests-repo';
import type { StoredResponseRequest } from './response-request';

/** A response's status, as OpenAI names them. */
export type ResponseStatus = 'queued' | 'in_progress' | 'completed' | 'failed' | 'cancelled' | 'incomplete';

/** Terminal statuses of a response. */
export const TERMINAL_RESPONSE_STATUSES: readonly ResponseStatus[] = [
  'completed',
  'failed',
  'cancelled',
  'incomplete',
];

/** What every view of one response shares: its row's fields (or, for `store: false`, its body's). */
export interface ResponseHead {
  id: string;
  model: string;
  /** Unix seconds of creation. */
  createdAt: number;
  background: boolean;
  store: boolean;
  request: StoredResponseRequest | null;
  metadata: Record<string, string>;
}

/** The output message's id: `msg_<request hex>`. */
export const outputItemId = (id: string): string => `msg_${id.replace(/^inf_/, '')}`;

/**
 * The response status of a request: `running` is `in_progress`; a completion ended by its token
 * limit is `incomplete` (reason `max_output_tokens`); `rejected` (refused when it started) is `failed`.
 */
export function responseStatusOf(row: RequestRecord | undefined): ResponseStatus {
  switch (row?.status) {
    case undefined:
    case 'queued':
      return 'queued';
    case 'running':
      return 'in_progress';
    case 'completed':
      return row.finishReason === 'length' ? 'incomplete' : 'completed';
    case 'cancelled':
      return 'cancelled';
    default:
      return 'failed';
  }
}

/** The output message item with `text`; `status` is the item's (in_progress, completed, incomplete). */
export function outputItem(
  id: string,
  text: string,
  status: 'in_progress' | 'completed' | 'incomplete',
): Record<string, unknown> {
  return {
    id: outputItemId(id),
    type: 'message',
    status,
    role: 'assistant',
    content: status === 'in_progress' && text === '' ? [] : [outputPart(text)],
  };
}

/** One `output_text` content part. */
export const outputPart = (text: string): Record<string, unknown> => ({
  type: 'output_text',
  text,
  annotations: [],
  logprobs: [],
});

/**
 * The response object (`object: "response"`) of `head` with status `status`, built from the
 * request's row when given: output, usage, error and incomplete details. A snapshot without a row
 * (the `response.created` event's) has no output and no usage.
 */
export function responseObject(
  head: ResponseHead,
  status: ResponseStatus,
  row?: Pick<RequestRecord, 'output' | 'usage'> & Partial<Pick<RequestRecord, 'error' | 'completedAt'>>,
): Record<string, unknown> {
  const text = row?.output ?? null;
  const terminal = TERMINAL_RESPONSE_STATUSES.includes(status);
  const output =
    text !== null && terminal
      ? [outputItem(head.id, text, status === 'completed' ? 'completed' : 'incomplete')]
      : [];
  const usage = row?.usage;
  const req = head.request;
  return {
    id: head.id,
    object: 'response',
    created_at: head.createdAt,
    status,
    background: head.background,
    error:
      status === 'failed'
        ? {
            code: row?.error?.type ?? 'server_error',
            message: row?.error?.message ?? 'the response failed',
          }
        : null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: req?.instructions ?? null,
    max_output_tokens: req?.max_output_tokens ?? null,
    metadata: head.metadata,
    model: head.model,
    output,
    parallel_tool_calls: false,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: head.store,
    temperature: req?.temperature ?? null,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: req?.top_p ?? null,
    truncation: 'disabled',
    usage:
      usage && terminal
        ? {
            input_tokens: usage.prompt_tokens,
            input_tokens_details: { cached_tokens: 0 },
            output_tokens: usage.completion_tokens,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: usage.total_tokens,
          }
        : null,
    user: null,
    ...(row?.completedAt && terminal ? { completed_at: Math.floor(row.completedAt.getTime() / 1000) } : {}),
  };
}

import type { z } from 'zod';
import type { SubmitBody } from '../inference/submit-schema';
import {
  completionResponse,
  type OpenAiKind,
  type ResponseHead,
  type ResponseSource,
} from '../openai/openai-format';
import { chatCompletionBody, completionBody, toSubmit } from '../openai/openai-schemas';
import { responseObject } from '../openai/responses/response-format';
import { responseBody, toResponseAccept } from '../openai/responses/response-request';
import type { SamplingParams } from '../shared/types';

/**
 * The endpoints a batch made from a file may target: the one definition the create body, the line
 * check, the output format, the OpenAPI document and the docs read.
 */
export const BATCH_FILE_ENDPOINTS = ['/v1/chat/completions', '/v1/completions', '/v1/responses'] as const;
export type BatchFileEndpoint = (typeof BATCH_FILE_ENDPOINTS)[number];

/** A line's body read for its endpoint: what to submit, or the zod error naming the field. */
export type ParsedLineBody =
  | { success: true; submit: SubmitBody; sampling?: SamplingParams; stream: boolean }
  | { success: false; error: z.ZodError };

/** How one endpoint's lines are read and its results written. */
export interface BatchEndpointSpec {
  /** Reads a line's `body` as the endpoint reads its request body. */
  parse(body: unknown): ParsedLineBody;
  /** The response body of a completed line, as the endpoint returns it. */
  response(head: ResponseHead, row: ResponseSource): Record<string, unknown>;
}

/** The spec of an OpenAI completions endpoint (`chat` or `text`). */
function completionsSpec(
  kind: OpenAiKind,
  schema: typeof chatCompletionBody | typeof completionBody,
): BatchEndpointSpec {
  return {
    parse(body) {
      const r = schema.safeParse(body);
      if (!r.success) return { success: false, error: r.error };
      return { success: true, ...toSubmit(r.data), stream: r.data.stream === true };
    },
    response: (head, row) => completionResponse(kind, head, row),
  };
}

/**
 * `/v1/responses` lines: read as `POST /v1/responses` reads its body (the same chat request to the
 * model), answered with the response object (`completed`, or `incomplete` at `max_output_tokens`).
 * A line is not a stored response: `GET /v1/responses/:id` does not list it, its output is the file.
 */
const responsesSpec: BatchEndpointSpec = {
  parse(body) {
    const r = responseBody.safeParse(body);
    if (!r.success) return { success: false, error: r.error };
    const a = toResponseAccept(r.data);
    return {
      success: true,
      submit: a.submit,
      ...(a.sampling ? { sampling: a.sampling } : {}),
      stream: r.data.stream === true,
    };
  },
  response: (head, row) =>
    responseObject(
      {
        id: head.id,
        model: head.model,
        createdAt: head.created,
        background: false,
        store: false,
        request: null,
        metadata: {},
      },
      row.finishReason === 'length' ? 'incomplete' : 'completed',
      row,
    ),
};

/** The endpoints served; one absent here is refused at create. */
export const BATCH_ENDPOINT_SPECS: Partial<Record<BatchFileEndpoint, BatchEndpointSpec>> = {
  '/v1/chat/completions': completionsSpec('chat', chatCompletionBody),
  '/v1/completions': completionsSpec('text', completionBody),
  '/v1/responses': responsesSpec,
};

/** The spec of `endpoint`, or undefined when it is not (yet) served. */
export function batchEndpointSpec(endpoint: string): BatchEndpointSpec | undefined {
  return BATCH_ENDPOINT_SPECS[endpoint as BatchFileEndpoint];
}

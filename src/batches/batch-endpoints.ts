import type { z } from 'zod';
import { chatCompletionBody, completionBody } from '../openai/openai-schemas';
import type { OpenAiKind } from '../openai/openai-format';

/**
 * The endpoints a batch made from a file may target: the one definition the create body, the line
 * check, the output format, the OpenAPI document and the docs read. `/v1/responses` is listed
 * (OpenAI's client sends it) with no body schema until the Responses API is merged: such a batch is a
 * 400 `unsupported endpoint`.
 */
export const BATCH_FILE_ENDPOINTS = ['/v1/chat/completions', '/v1/completions', '/v1/responses'] as const;
export type BatchFileEndpoint = (typeof BATCH_FILE_ENDPOINTS)[number];

/** How one endpoint's lines are read and its results written. */
export interface BatchEndpointSpec {
  /** The body schema of a line (that endpoint's request body). */
  body: typeof chatCompletionBody | typeof completionBody;
  /** The OpenAI response object a completed line's `response.body` holds. */
  kind: OpenAiKind;
}

/** The endpoints served now; one absent here is refused at create. */
export const BATCH_ENDPOINT_SPECS: Partial<Record<BatchFileEndpoint, BatchEndpointSpec>> = {
  '/v1/chat/completions': { body: chatCompletionBody, kind: 'chat' },
  '/v1/completions': { body: completionBody, kind: 'text' },
};

/** The spec of `endpoint`, or undefined when it is not (yet) served. */
export function batchEndpointSpec(endpoint: string): BatchEndpointSpec | undefined {
  return BATCH_ENDPOINT_SPECS[endpoint as BatchFileEndpoint];
}

/** The line body parsed by `spec` (zod errors name the field). */
export type BatchLineBody = z.infer<BatchEndpointSpec['body']>;

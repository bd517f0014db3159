import { z } from 'zod';
import { inputItemsQuery, retrieveQuery } from '../../../openai/responses/response-queries';
import { responseBody } from '../../../openai/responses/response-request';
import { defineRoutes } from '../route-doc';
import { openAiObject, sseStream } from './views';

const tag = 'Responses (OpenAI)';
const params = z.object({ id: z.string().describe('the response id (its request id, `inf_…`)') });
const response = openAiObject('response');

/** src/api/routes/responses-routes.ts. */
export const responsesRouteDocs = defineRoutes([
  {
    method: 'post',
    path: '/v1/responses',
    tag,
    summary: "Create a response (OpenAI's Responses API: foreground, `background`, `stream`)",
    description:
      'One durable request: quota, ledger, Idempotency-Key and Web UI as every request. `background: true` ' +
      'answers at once with status `queued` (poll, resume the stream, cancel); `stream: true` sends ' +
      '`response.*` events with contiguous `sequence_number`s. A foreground call whose client disconnects ' +
      'is cancelled (its output so far billed). See docs/api.md, Responses API.',
    headers: {
      'Idempotency-Key': 'a retry with the same key and body gets the same response',
      'X-Cancel-On-Disconnect': '`false`: a non-streaming foreground call survives its client',
    },
    body: responseBody,
    responses: {
      200: {
        description: 'The response object, or with `stream: true` SSE `response.*` events',
        schema: response,
        headers: { 'X-Request-Id': 'the durable request id (= the response id)' },
      },
    },
    errors: [404, 409, 422, 429, 503],
  },
  {
    method: 'get',
    path: '/v1/responses/:id',
    tag,
    summary: 'A response; with `stream=true`, its events after `starting_after` (resume, any replica)',
    params,
    query: retrieveQuery,
    headers: {
      'Last-Event-ID': 'with `stream=true` and no `starting_after`: resume after this sequence number',
    },
    responses: {
      200: {
        description: 'The response object, or with `stream=true` SSE events numbered after `starting_after`',
        schema: z.union([response, sseStream]),
      },
    },
    errors: [404],
  },
  {
    method: 'post',
    path: '/v1/responses/:id/cancel',
    tag,
    summary: 'Cancel a background response (idempotent: a finished one is returned as it is)',
    params,
    responses: { 200: { description: 'The response once it ended (or as it stands)', schema: response } },
    errors: [400, 404],
  },
  {
    method: 'delete',
    path: '/v1/responses/:id',
    tag,
    summary: 'Delete a response (its input and metadata; the request record and the ledger stay)',
    params,
    responses: {
      200: {
        description: 'Deleted',
        schema: z.object({ id: z.string(), object: z.literal('response'), deleted: z.literal(true) }),
      },
    },
    errors: [404],
  },
  {
    method: 'get',
    path: '/v1/responses/:id/input_items',
    tag,
    summary: "A response's input items (messages), newest first by default",
    params,
    query: inputItemsQuery,
    responses: {
      200: {
        description: 'A list of input items',
        schema: z.object({
          object: z.literal('list'),
          data: z.array(z.looseObject({ id: z.string(), type: z.literal('message') })),
          first_id: z.string().nullable(),
          last_id: z.string().nullable(),
          has_more: z.boolean(),
        }),
      },
    },
    errors: [404],
  },
]);

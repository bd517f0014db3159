import { z } from 'zod';
import { chatCompletionBody, completionBody } from '../../../openai/openai-schemas';
import { defineRoutes } from '../route-doc';
import { listOf, modelView, openAiObject } from './views';

const tag = 'OpenAI-compatible';
const headers = {
  'Idempotency-Key': 'a retry with the same key and body gets the same request',
  'X-Cancel-On-Disconnect': '`false`: a non-streaming call survives its client',
};

/** src/api/routes/openai-routes.ts and models-routes.ts. */
export const openAiRouteDocs = defineRoutes([
  {
    method: 'post',
    path: '/v1/chat/completions',
    tag,
    summary: 'OpenAI chat completion (plain or `stream: true`)',
    headers,
    body: chatCompletionBody,
    responses: {
      200: {
        description: 'A chat.completion, or with `stream: true` SSE chunks',
        schema: openAiObject('chat.completion'),
        headers: { 'X-Request-Id': 'the durable request id' },
      },
    },
    errors: [404, 409, 422, 429, 502, 503, 504],
  },
  {
    method: 'post',
    path: '/v1/completions',
    tag,
    summary: 'OpenAI text completion (plain or `stream: true`)',
    headers,
    body: completionBody,
    responses: {
      200: {
        description: 'A text_completion, or with `stream: true` SSE chunks',
        schema: openAiObject('text_completion'),
        headers: { 'X-Request-Id': 'the durable request id' },
      },
    },
    errors: [404, 409, 422, 429, 502, 503, 504],
  },
  {
    method: 'get',
    path: '/v1/models',
    tag,
    summary: 'Models this deployment serves',
    responses: { 200: { description: 'The models', schema: listOf(modelView, false) } },
  },
  {
    method: 'get',
    path: '/v1/models/:model',
    tag,
    summary: 'One model',
    params: z.object({ model: z.string() }),
    responses: { 200: { description: 'The model', schema: modelView } },
    errors: [404],
  },
]);

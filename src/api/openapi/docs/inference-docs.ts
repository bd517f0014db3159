import { z } from 'zod';
import { listQuerySchema } from '../../query-schemas';
import { requestIdSchema, submitBodySchema } from '../../../inference/submit-schema';
import { defineRoutes } from '../route-doc';
import { acceptedView, cancellingView, inferenceView, listOf, sseStream } from './views';

const idParam = z.object({ id: requestIdSchema });
const tag = 'Inference';

/** src/api/routes/inference-routes.ts, stream-routes.ts and list-routes.ts. */
export const inferenceRouteDocs = defineRoutes([
  {
    method: 'post',
    path: '/v1/inference',
    tag,
    summary: 'Submit a request',
    description: 'Validates, counts prompt tokens, reserves quota and starts the durable request.',
    headers: {
      'Idempotency-Key': 'a retry with the same key and body gets the same request',
      Prefer: '`wait=N` (N ≤ 60): answer 200 with the finished request if it ends within N s',
    },
    body: submitBodySchema,
    responses: {
      200: { description: 'Finished within `Prefer: wait=N`', schema: inferenceView },
      202: { description: 'Accepted', schema: acceptedView, headers: { Location: '/v1/inference/{id}' } },
    },
    errors: [404, 409, 422, 429, 503],
  },
  {
    method: 'get',
    path: '/v1/inference',
    tag,
    summary: 'List own requests, newest first',
    query: listQuerySchema,
    responses: { 200: { description: 'A page', schema: listOf(inferenceView) } },
  },
  {
    method: 'get',
    path: '/v1/inference/:id',
    tag,
    summary: 'Status, output, usage of a request',
    params: idParam,
    responses: { 200: { description: 'The request', schema: inferenceView } },
    errors: [404],
  },
  {
    method: 'post',
    path: '/v1/inference/:id/cancel',
    tag,
    summary: 'Cancel a request',
    params: idParam,
    responses: { 202: { description: 'Cancelling', schema: cancellingView } },
    errors: [404, 409],
  },
  {
    method: 'get',
    path: '/v1/inference/:id/stream',
    tag,
    summary: 'Server-Sent Events of the generated text',
    params: idParam,
    headers: { 'Last-Event-ID': 'resume after this event id' },
    responses: {
      200: {
        description:
          'events `attempt`, `token`, `attempt_end`, `done` (`attempt_end` and `done` carry `stop_reason: quota_exhausted` when the tenant token limits stopped the generation)',
        schema: sseStream,
        contentType: 'text/event-stream',
      },
    },
    errors: [404],
  },
]);

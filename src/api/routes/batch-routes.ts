import { once } from 'node:events';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { AppError } from '../../errors/app-error';
import { withUploadDeadline, type UploadDeadlineOptions } from '../../batches/upload-deadline';
import {
  batchIdParams,
  batchItemSchema,
  batchListQuerySchema,
  batchResultLineSchema,
  batchViewSchema,
} from '../../batches/batch-schemas';
import type { BatchUpload } from '../../batches/batch-service';
import type { BatchRecord } from '../../batches/batch-types';
import { defineRoutes } from '../openapi/route-doc';
import { ErrorType } from '../../shared/error-types';
import { tenantOf } from '../auth';
import { parseStrict } from '../query-schemas';
import type { BatchRoutesDeps } from '../../batches/create-batch-deps';

export type { BatchRoutesDeps };

const JSONL_TYPES = ['application/jsonl', 'application/x-ndjson'];
/** Result lines read per query while streaming. */
const RESULTS_PAGE = 500;

/** The unread body of POST /v1/batches, after the checks its headers allow (type, encoding, length). */
function uploadOf(req: Request, limit: number, deadline: UploadDeadlineOptions): BatchUpload {
  const format = req.is(JSONL_TYPES) ? 'jsonl' : req.is('application/json') ? 'json' : undefined;
  if (!format)
    throw new AppError(
      ErrorType.InvalidRequest,
      'send a JSON array of items (Content-Type: application/json) or JSONL (application/jsonl or application/x-ndjson)',
      { param: 'body' },
    );
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity')
    throw new AppError(
      ErrorType.InvalidRequest,
      `Content-Encoding ${encoding} is not accepted; send the body as is`,
      {
        param: 'content-encoding',
      },
    );
  const length = Number(req.headers['content-length']);
  if (length > limit)
    throw new AppError(
      ErrorType.RequestTooLarge,
      `batch body of ${length} bytes is over the limit of ${limit} bytes`,
      {
        param: 'body',
      },
    );
  // Not destroyed when the parser stops early: the error answer still goes out on this socket.
  const body = req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>;
  return { format, body: withUploadDeadline(body, deadline) };
}

/** The public shape of a batch. */
export function batchView(b: BatchRecord): Record<string, unknown> {
  const iso = (d: Date | null): string | null => d?.toISOString() ?? null;
  return {
    id: b.id,
    object: 'batch',
    endpoint: '/v1/inference',
    status: b.status,
    concurrency: b.concurrency,
    total: b.total,
    ...(b.counts ? { request_counts: { total: b.total, ...b.counts } } : {}),
    created_at: b.createdAt.toISOString(),
    in_progress_at: iso(b.startedAt),
    cancelling_at: iso(b.cancelRequestedAt),
    completed_at: iso(b.completedAt),
    results_url: `/v1/batches/${b.id}/results`,
  };
}

/**
 * /v1/batches. Mount after tenant auth and BEFORE the app-wide JSON parser: POST /v1/batches reads
 * its own body (JSON array or JSONL) up to its larger limit.
 */
export function batchRoutes(deps: BatchRoutesDeps): Router {
  const router = Router();
  const limit = deps.maxBodyBytes;
  const owned = async (req: Request): Promise<BatchRecord> => {
    const { id } = batchIdParams.parse(req.params);
    const b = await deps.batches.get(id, tenantOf(req).id);
    if (!b) throw new AppError(ErrorType.NotFound, `no batch ${id}`, { param: 'id' });
    return b;
  };

  // The body is read as it arrives (never whole), by the service's streaming parser.
  router.post('/v1/batches', async (req, res) => {
    try {
      const b = await deps.service.create(tenantOf(req), uploadOf(req, limit, deps.uploadDeadline));
      res.status(202).location(`/v1/batches/${b.id}`).json(batchView(b));
    } catch (err) {
      // Refused before the body was all read: close the connection after the answer rather than
      // read (and discard) up to the rest of the body.
      if (!req.complete) res.set('Connection', 'close');
      throw err;
    }
  });

  router.get('/v1/batches', async (req, res) => {
    const q = parseStrict(batchListQuerySchema, req.query);
    const tenantId = tenantOf(req).id;
    const after = q.after ? await deps.batches.get(q.after, tenantId) : undefined;
    if (q.after && !after)
      throw new AppError(ErrorType.InvalidRequest, `no batch ${q.after}`, { param: 'after' });
    const rows = await deps.batches.list(
      tenantId,
      q.limit + 1,
      after && { createdAt: after.createdAt, id: after.id },
    );
    const page = rows.slice(0, q.limit);
    res.json({
      object: 'list',
      data: page.map(batchView),
      has_more: rows.length > q.limit,
      last_id: page.at(-1)?.id ?? null,
    });
  });

  router.get('/v1/batches/:id', async (req, res) => {
    res.json(batchView(await owned(req)));
  });

  // Streamed page by page (never the whole batch in memory), with backpressure.
  router.get('/v1/batches/:id/results', async (req, res) => {
    const b = await owned(req);
    res.status(200).type('application/jsonl');
    let after = -1;
    for (;;) {
      const rows = await deps.batches.results(b.id, after, RESULTS_PAGE);
      if (!rows.length || res.destroyed) break;
      const chunk = rows.map((r) => JSON.stringify(r.line)).join('\n') + '\n';
      after = rows.at(-1)!.idx;
      if (!res.write(chunk)) await once(res, 'drain');
      if (rows.length < RESULTS_PAGE) break;
    }
    res.end();
  });

  router.post('/v1/batches/:id/cancel', async (req, res) => {
    const b = await owned(req);
    const status = await deps.batches.requestCancel(b.id, b.tenantId);
    if (status === 'completed' || status === 'cancelled')
      throw new AppError(ErrorType.Conflict, `batch ${b.id} already ${status}; nothing to cancel`, {
        param: 'id',
      });
    await deps.gateway.cancel(b.id);
    res.status(202).json(batchView((await deps.batches.get(b.id, b.tenantId))!));
  });

  return router;
}

const tag = 'Batches';

/** The docs of this file's routes. */
export const batchRouteDocs = defineRoutes([
  {
    method: 'post',
    path: '/v1/batches',
    tag,
    summary: 'Submit up to 10,000 requests as one batch',
    description:
      'A JSON array of items, or JSONL (`Content-Type: application/jsonl` or `application/x-ndjson`), ' +
      'each `{custom_id, body}` with `body` as for POST /v1/inference. Every item is validated and ' +
      'tokenized as it arrives: one invalid item is a 400 naming `items[i].body.<field>`, and nothing is stored. ' +
      'The body is read as a stream and refused at once past a bound (413 over BATCH_MAX_BODY_BYTES; 400 for an item ' +
      "over BATCH_MAX_ITEM_BYTES or more than 10,000 lines). 429 when the batch's estimated tokens exceed the " +
      "tenant's token quota, when a per-tenant cap (batches, items, enqueued tokens in flight) is reached, or while " +
      "the tenant's previous upload is still being read; 503 when the API reads too many uploads at once.",
    body: {
      'application/json': z.array(batchItemSchema).min(1).max(10_000),
      'application/jsonl': z.string().describe('one item (BatchItem) per line'),
      'application/x-ndjson': z.string().describe('one item (BatchItem) per line'),
    },
    responses: {
      202: { description: 'Accepted', schema: batchViewSchema, headers: { Location: '/v1/batches/{id}' } },
    },
    errors: [404, 413, 429, 503],
  },
  {
    method: 'get',
    path: '/v1/batches',
    tag,
    summary: 'List own batches, newest first',
    query: batchListQuerySchema,
    responses: {
      200: {
        description: 'A page',
        schema: z.object({
          object: z.literal('list'),
          data: z.array(batchViewSchema),
          has_more: z.boolean(),
          last_id: z.string().nullable(),
        }),
      },
    },
  },
  {
    method: 'get',
    path: '/v1/batches/:id',
    tag,
    summary: 'Status of a batch with its items counted by state',
    params: batchIdParams,
    responses: { 200: { description: 'The batch', schema: batchViewSchema } },
    errors: [404],
  },
  {
    method: 'get',
    path: '/v1/batches/:id/results',
    tag,
    summary: 'One JSON line per item, in submit order',
    params: batchIdParams,
    responses: {
      200: {
        description: 'JSONL of BatchResultLine',
        schema: batchResultLineSchema,
        contentType: 'application/jsonl',
      },
    },
    errors: [404],
  },
  {
    method: 'post',
    path: '/v1/batches/:id/cancel',
    tag,
    summary: 'Cancel the rest of a batch',
    params: batchIdParams,
    responses: { 202: { description: 'Cancelling', schema: batchViewSchema } },
    errors: [404, 409],
  },
]);

import { once } from 'node:events';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { AppError } from '../../errors/app-error';
import { withUploadDeadline } from '../../batches/upload-deadline';
import {
  batchIdParams,
  batchItemSchema,
  batchListQuerySchema,
  batchResultLineSchema,
  batchViewSchema,
  createBatchBodySchema,
  type CreateBatchBody,
} from '../../batches/batch-schemas';
import type { BatchUpload } from '../../batches/batch-service';
import { INLINE_ENDPOINT, isTerminalBatch, type BatchRecord } from '../../batches/batch-types';
import type { LineError } from '../../batches/batch-repo';
import { MAX_LISTED_ERRORS } from '../../batches/batch-input';
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
function uploadOf(req: Request, limit: number): { format: BatchUpload['format'] } {
  const format = req.is(JSONL_TYPES) ? 'jsonl' : req.is('application/json') ? 'json' : undefined;
  if (!format)
    throw new AppError(
      ErrorType.InvalidRequest,
      'send a JSON object {input_file_id, endpoint, completion_window} (a batch of an uploaded file), a JSON array of items (Content-Type: application/json) or JSONL (application/jsonl or application/x-ndjson)',
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
  return { format };
}

/** Largest body of OpenAI's create (a file id, an endpoint, a window and metadata). */
const CREATE_BODY_MAX = 65_536;

/**
 * The body's first non-blank byte and the body itself (the bytes read to find it included). A JSON
 * body starting with `{` is OpenAI's create on an uploaded file; `[` is an inline batch.
 */
async function peek(body: AsyncIterable<Buffer>): Promise<{ first?: number; body: AsyncIterable<Buffer> }> {
  const it = body[Symbol.asyncIterator]();
  const seen: Buffer[] = [];
  let first: number | undefined;
  let bytes = 0;
  while (first === undefined && bytes <= CREATE_BODY_MAX) {
    const n = await it.next();
    if (n.done) break;
    seen.push(n.value);
    bytes += n.value.length;
    first = n.value.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  }
  async function* replay(): AsyncGenerator<Buffer> {
    yield* seen;
    for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
  }
  return { first, body: replay() };
}

/** Reads OpenAI's create body whole (it is small: over {@link CREATE_BODY_MAX} is a 413). */
async function createBodyOf(body: AsyncIterable<Buffer>): Promise<CreateBatchBody> {
  const parts: Buffer[] = [];
  let bytes = 0;
  for await (const b of body) {
    bytes += b.length;
    if (bytes > CREATE_BODY_MAX)
      throw new AppError(
        ErrorType.RequestTooLarge,
        `a batch create body is at most ${CREATE_BODY_MAX} bytes`,
        {
          param: 'body',
        },
      );
    parts.push(b);
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    throw new AppError(ErrorType.InvalidRequest, 'the body is not valid JSON', { param: 'body' });
  }
  // An object that is not a create (e.g. one inline item sent without its array) names the body.
  if (typeof json !== 'object' || json === null || !('input_file_id' in json))
    throw new AppError(
      ErrorType.InvalidRequest,
      'send a JSON object {input_file_id, endpoint, completion_window} (a batch of an uploaded file) or a JSON array of items',
      { param: 'body' },
    );
  return createBatchBodySchema.parse(json);
}

const unix = (d: Date | null): number | null => (d ? Math.floor(d.getTime() / 1000) : null);
const iso = (d: Date | null): string | null => d?.toISOString() ?? null;

/**
 * The public shape of a batch: OpenAI's Batch object for a batch made from a file (Unix seconds,
 * `request_counts {total, completed, failed}`), with this API's `total`, `concurrency` and
 * `results_url` beside; an inline batch keeps its ISO times and its per-state counts. `errors`: the
 * first invalid lines, when given.
 */
export function batchView(b: BatchRecord, errors?: LineError[]): Record<string, unknown> {
  const openAi = b.endpoint !== INLINE_ENDPOINT;
  const t = openAi ? unix : iso;
  const endedAs = (s: string): number | string | null => (b.status === s ? t(b.completedAt) : null);
  const c = b.counts;
  const counts = !c
    ? undefined
    : openAi
      ? {
          total: b.total + b.invalidLines,
          completed: c.completed,
          failed: b.invalidLines + c.failed + c.rejected + c.cancelled,
        }
      : { total: b.total, ...c };
  return {
    id: b.id,
    object: 'batch',
    endpoint: b.endpoint,
    status: b.status,
    input_file_id: b.inputFileId,
    output_file_id: b.outputFileId,
    error_file_id: b.errorFileId,
    completion_window: b.completionWindow,
    metadata: b.metadata,
    errors: errors?.length
      ? {
          object: 'list',
          data: errors.map((e) => ({ code: e.code, message: e.message, line: e.line + 1, param: null })),
        }
      : null,
    concurrency: b.concurrency,
    total: b.total,
    ...(counts ? { request_counts: counts } : {}),
    created_at: t(b.createdAt),
    in_progress_at: t(b.startedAt),
    expires_at: t(b.expiresAt),
    finalizing_at: t(b.finalizingAt),
    cancelling_at: t(b.cancelRequestedAt),
    completed_at: openAi ? endedAs('completed') : iso(b.completedAt),
    failed_at: endedAs('failed'),
    expired_at: endedAs('expired'),
    cancelled_at: endedAs('cancelled'),
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
  /** The view, with the first invalid lines of a batch that failed because of them. */
  const view = async (b: BatchRecord): Promise<Record<string, unknown>> =>
    batchView(
      b,
      b.status === 'failed' && b.invalidLines
        ? await deps.batches.lineErrors(b.id, -1, MAX_LISTED_ERRORS)
        : undefined,
    );

  // The body is read as it arrives (never whole), by the service's streaming parser; a JSON object
  // is OpenAI's create on an uploaded file.
  router.post('/v1/batches', async (req, res) => {
    try {
      const { format } = uploadOf(req, limit);
      // Not destroyed when the parser stops early: the error answer still goes out on this socket.
      const raw = withUploadDeadline(
        req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>,
        deps.uploadDeadline,
      );
      const { first, body } = format === 'json' ? await peek(raw) : { first: undefined, body: raw };
      const tenant = tenantOf(req);
      const b =
        first === 0x7b // {
          ? await deps.service.createFromFile(tenant, await createBodyOf(body))
          : await deps.service.create(tenant, { format, body });
      res
        .status(202)
        .location(`/v1/batches/${b.id}`)
        .json(await view(b));
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
      // Batches from a file carry OpenAI's request_counts in lists too; inline ones do not, as before.
      data: await Promise.all(
        page.map(async (b) =>
          batchView(b.endpoint === INLINE_ENDPOINT ? b : { ...b, counts: await deps.batches.counts(b.id) }),
        ),
      ),
      has_more: rows.length > q.limit,
      last_id: page.at(-1)?.id ?? null,
    });
  });

  router.get('/v1/batches/:id', async (req, res) => {
    res.json(await view(await owned(req)));
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
    if (status && (isTerminalBatch(status) || status === 'finalizing'))
      throw new AppError(ErrorType.Conflict, `batch ${b.id} already ${status}; nothing to cancel`, {
        param: 'id',
      });
    await deps.gateway.cancel(b.id);
    deps.logger?.info({ batchId: b.id, tenant: b.tenantId }, 'batch cancel requested');
    res.status(202).json(await view((await deps.batches.get(b.id, b.tenantId))!));
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
    summary: 'Create a batch: from an uploaded file (OpenAI’s Batch API) or with up to 10,000 items inline',
    description:
      '**From a file (OpenAI’s create):** a JSON object `{input_file_id, endpoint, completion_window: "24h", metadata}`; ' +
      '`endpoint` is `/v1/chat/completions`, `/v1/completions` or `/v1/responses`. ' +
      'Each line of the file is checked on its own: an invalid one does not refuse the batch, it is reported in the ' +
      'error file (and in `errors` when no line is valid: status `failed`). The valid lines’ tokens are checked against ' +
      'the tenant’s token quota and enqueued-token cap at create (429, nothing stored). Statuses: validating → ' +
      'in_progress → finalizing → completed, or failed, expired (lines not run within the window, charged nothing), ' +
      'cancelling → cancelled; `output_file_id` and `error_file_id` are read with GET /v1/files/{id}/content.\n\n' +
      '**Inline:** a JSON array of items, or JSONL (`Content-Type: application/jsonl` or `application/x-ndjson`), ' +
      'each `{custom_id, body}` with `body` as for POST /v1/inference. Every item is validated and ' +
      'tokenized as it arrives: one invalid item is a 400 naming `items[i].body.<field>`, and nothing is stored. ' +
      'The body is read as a stream and refused at once past a bound (413 over BATCH_MAX_BODY_BYTES; 400 for an item ' +
      "over BATCH_MAX_ITEM_BYTES or more than 10,000 lines). 429 when the batch's estimated tokens exceed the " +
      "tenant's token quota, when a per-tenant cap (batches, items, enqueued tokens in flight) is reached, or while " +
      "the tenant's previous upload is still being read; 503 when the API reads too many uploads at once.",
    body: {
      'application/json': z.union([createBatchBodySchema, z.array(batchItemSchema).min(1).max(10_000)]),
      'application/jsonl': z.string().describe('one item (BatchItem) per line'),
      'application/x-ndjson': z.string().describe('one item (BatchItem) per line'),
    },
    responses: {
      202: { description: 'Accepted', schema: batchViewSchema, headers: { Location: '/v1/batches/{id}' } },
    },
    errors: [404, 408, 413, 429, 503],
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

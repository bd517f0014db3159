import { once } from 'node:events';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { withUploadDeadline } from '../../batches/upload-deadline';
import type { FileRoutesDeps } from '../../batches/create-batch-deps';
import { AppError } from '../../errors/app-error';
import { FRAMING_BYTES } from '../../files/file-service';
import {
  fileIdParams,
  fileListQuerySchema,
  fileUploadSchema,
  fileViewSchema,
} from '../../files/file-schemas';
import type { FileRecord } from '../../files/file-types';
import { ErrorType } from '../../shared/error-types';
import { defineRoutes } from '../openapi/route-doc';
import { tenantOf } from '../auth';
import { parseStrict } from '../query-schemas';

/** OpenAI's File object. */
export function fileView(f: FileRecord): z.infer<typeof fileViewSchema> {
  return {
    id: f.id,
    object: 'file',
    bytes: f.bytes,
    created_at: Math.floor(f.createdAt.getTime() / 1000),
    filename: f.filename,
    purpose: f.purpose,
    status: 'processed',
    expires_at: null,
    status_details: null,
  };
}

/**
 * /v1/files, OpenAI's Files API for batch input and output. Mount after tenant auth and BEFORE the
 * app-wide JSON parser: POST /v1/files reads its own multipart body as it arrives.
 */
export function fileRoutes(deps: FileRoutesDeps): Router {
  const router = Router();
  const owned = async (req: Request): Promise<FileRecord> => {
    const { id } = fileIdParams.parse(req.params);
    const f = await deps.files.get(id, tenantOf(req).id);
    if (!f) throw new AppError(ErrorType.NotFound, `no file ${id}`, { param: 'id' });
    return f;
  };

  router.post('/v1/files', async (req, res) => {
    try {
      const length = Number(req.headers['content-length']);
      if (length > deps.maxBytes + FRAMING_BYTES)
        throw new AppError(
          ErrorType.RequestTooLarge,
          `upload of ${length} bytes is over the limit of ${deps.maxBytes} bytes`,
          { param: 'file' },
        );
      const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
      if (encoding !== 'identity')
        throw new AppError(ErrorType.InvalidRequest, `Content-Encoding ${encoding} is not accepted`, {
          param: 'content-encoding',
        });
      // Not destroyed when the parser stops early: the error answer still goes out on this socket.
      const body = withUploadDeadline(
        req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>,
        deps.uploadDeadline,
      );
      const f = await deps.service.upload(tenantOf(req), { contentType: req.headers['content-type'], body });
      res.status(200).json(fileView(f));
    } catch (err) {
      // Refused before the body was all read: close the connection rather than read the rest.
      if (!req.complete) res.set('Connection', 'close');
      throw err;
    }
  });

  router.get('/v1/files', async (req, res) => {
    const q = parseStrict(fileListQuerySchema, req.query);
    const tenantId = tenantOf(req).id;
    const after = q.after ? await deps.files.get(q.after, tenantId) : undefined;
    if (q.after && !after)
      throw new AppError(ErrorType.InvalidRequest, `no file ${q.after}`, { param: 'after' });
    const rows = await deps.files.list(tenantId, q.limit + 1, {
      ...(q.purpose ? { purpose: q.purpose } : {}),
      ...(after ? { after: { createdAt: after.createdAt, id: after.id } } : {}),
    });
    const page = rows.slice(0, q.limit);
    res.json({
      object: 'list',
      data: page.map(fileView),
      has_more: rows.length > q.limit,
      first_id: page[0]?.id ?? null,
      last_id: page.at(-1)?.id ?? null,
    });
  });

  router.get('/v1/files/:id', async (req, res) => {
    res.json(fileView(await owned(req)));
  });

  // Streamed a stored chunk at a time, with backpressure: never the whole file in memory.
  router.get('/v1/files/:id/content', async (req, res) => {
    const f = await owned(req);
    res.status(200).type('application/jsonl').set('Content-Length', String(f.bytes));
    res.set('Content-Disposition', `attachment; filename="${f.filename.replace(/["\\\r\n]/g, '_')}"`);
    let sent = 0;
    for await (const chunk of deps.files.content(f.id)) {
      if (res.destroyed) break;
      sent += chunk.length;
      if (!res.write(chunk)) await once(res, 'drain');
    }
    deps.metrics.downloadedBytes.inc({ purpose: f.purpose }, sent);
    deps.logger.info({ fileId: f.id, tenant: f.tenantId, bytes: sent }, 'file content served');
    res.end();
  });

  router.delete('/v1/files/:id', async (req, res) => {
    const { id } = fileIdParams.parse(req.params);
    const tenantId = tenantOf(req).id;
    if (!(await deps.files.delete(id, tenantId)))
      throw new AppError(ErrorType.NotFound, `no file ${id}`, { param: 'id' });
    deps.metrics.deletes.inc();
    deps.logger.info({ fileId: id, tenant: tenantId }, 'file deleted');
    res.json({ id, object: 'file', deleted: true });
  });

  return router;
}

const tag = 'Files';

/** The docs of this file's routes. */
export const fileRouteDocs = defineRoutes([
  {
    method: 'post',
    path: '/v1/files',
    tag,
    summary: 'Upload a batch input file (JSONL), as OpenAI’s Files API',
    description:
      'multipart/form-data with `purpose=batch` and one `file` part: a JSONL file, one request per line ' +
      '(`{custom_id, method: "POST", url, body}`). Stored as it arrives (never held whole), sealed at rest with ' +
      'the payload keys. 413 past FILE_MAX_BYTES; 400 for a line over BATCH_MAX_ITEM_BYTES or more than 10,000 ' +
      'lines, both found as the body streams in; 408 for a body sent too slowly; 429/503 while too many uploads ' +
      'are read at once. Lines are checked one by one when a batch reads the file.',
    body: { 'multipart/form-data': fileUploadSchema },
    responses: { 200: { description: 'Stored', schema: fileViewSchema } },
    errors: [408, 413, 429, 503],
  },
  {
    method: 'get',
    path: '/v1/files',
    tag,
    summary: 'List own files, newest first',
    query: fileListQuerySchema,
    responses: {
      200: {
        description: 'A page',
        schema: z.object({
          object: z.literal('list'),
          data: z.array(fileViewSchema),
          has_more: z.boolean(),
          first_id: z.string().nullable(),
          last_id: z.string().nullable(),
        }),
      },
    },
  },
  {
    method: 'get',
    path: '/v1/files/:id',
    tag,
    summary: 'A file’s metadata',
    params: fileIdParams,
    responses: { 200: { description: 'The file', schema: fileViewSchema } },
    errors: [404],
  },
  {
    method: 'get',
    path: '/v1/files/:id/content',
    tag,
    summary: 'A file’s bytes (batch output and error files: OpenAI’s line format), streamed',
    params: fileIdParams,
    responses: {
      200: {
        description: 'The file as uploaded or written',
        schema: z.string(),
        contentType: 'application/jsonl',
      },
    },
    errors: [404],
  },
  {
    method: 'delete',
    path: '/v1/files/:id',
    tag,
    summary: 'Delete a file and its bytes (batches made from it keep running)',
    params: fileIdParams,
    responses: {
      200: {
        description: 'Deleted',
        schema: z.object({ id: z.string(), object: z.literal('file'), deleted: z.literal(true) }),
      },
    },
    errors: [404],
  },
]);

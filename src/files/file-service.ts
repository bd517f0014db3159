import type { Pool } from 'pg';
import type { UploadGate } from '../batches/upload-gate';
import { jsonlLines } from '../batches/batch-stream';
import { withTransaction } from '../db/transaction';
import { AppError } from '../errors/app-error';
import type { Logger } from '../observability/logger';
import { ErrorType } from '../shared/error-types';
import type { TenantWithLimits } from '../tenants/tenants-repo';
import type { FileMetrics } from './file-metrics';
import { newFileId, type FileRecord } from './file-types';
import type { FilesRepo } from './files-repo';
import { boundaryOf, multipartParts } from './multipart';

/** Options of {@link FileService}. */
export interface FileServiceDeps {
  pool: Pool;
  files: FilesRepo;
  /** Uploads read at once, per process and per tenant (shared with POST /v1/batches). */
  gate: UploadGate;
  /** Largest file, bytes (FILE_MAX_BYTES); the body is refused past it as it arrives. */
  maxBytes: number;
  /** Longest line, bytes (BATCH_MAX_ITEM_BYTES). */
  maxLineBytes: number;
  /** Most lines, blank ones counted (a batch's most items). */
  maxLines: number;
  metrics: FileMetrics;
  logger: Logger;
}

/** A POST /v1/files body, unread. */
export interface FileUpload {
  contentType: string | undefined;
  /** The multipart body's bytes as they arrive (bounded in time by the caller). */
  body: AsyncIterable<Buffer>;
}

/** Bytes of the multipart framing allowed beyond the file itself (fields, headers, boundaries). */
export const FRAMING_BYTES = 65_536;

function outcomeOf(err: unknown): string {
  if (!(err instanceof AppError)) return 'error';
  switch (err.type) {
    case ErrorType.RequestTooLarge:
      return 'too_large';
    case ErrorType.RequestTimeout:
      return 'too_slow';
    case ErrorType.RateLimited:
    case ErrorType.Unavailable:
      return 'busy';
    default:
      return 'invalid';
  }
}

const invalid = (message: string, param: string): AppError =>
  new AppError(ErrorType.InvalidRequest, message, { param });

/**
 * POST /v1/files: a multipart body with a `purpose` field (`batch`) and one `file` part, stored as
 * it arrives, a chunk at a time, in one transaction that commits only when the whole body is read
 * and valid. Bounded while read: the file's bytes (FILE_MAX_BYTES, 413), each line
 * (BATCH_MAX_ITEM_BYTES) and the number of lines (a batch's most items, 400); lines are checked as
 * JSON only when a batch reads the file, each on its own.
 */
export class FileService {
  constructor(private readonly deps: FileServiceDeps) {}

  async upload(tenant: TenantWithLimits, up: FileUpload): Promise<FileRecord> {
    const { metrics, logger } = this.deps;
    let release: (() => void) | undefined;
    try {
      const boundary = boundaryOf(up.contentType);
      if (!boundary)
        throw invalid('send multipart/form-data with a `purpose` field and a `file` part', 'body');
      release = this.deps.gate.acquire(tenant.id);
      const f = await this.store(tenant, boundary, up.body);
      metrics.uploads.inc({ outcome: 'stored' });
      metrics.uploadedBytes.inc(f.bytes);
      logger.info(
        { tenant: tenant.id, fileId: f.id, bytes: f.bytes, lines: f.lines, purpose: f.purpose },
        'file stored',
      );
      return f;
    } catch (err) {
      const outcome = outcomeOf(err);
      metrics.uploads.inc({ outcome });
      const e = err instanceof AppError ? err : undefined;
      logger.info({ tenant: tenant.id, outcome, param: e?.param, reason: e?.message }, 'file refused');
      throw err;
    } finally {
      release?.();
    }
  }

  private async store(
    tenant: TenantWithLimits,
    boundary: string,
    body: AsyncIterable<Buffer>,
  ): Promise<FileRecord> {
    const { files, maxBytes } = this.deps;
    const id = newFileId();
    await withTransaction(this.deps.pool, async (c) => {
      let purpose: string | undefined;
      let file: { filename: string; bytes: number; lines: number } | undefined;
      const parts = multipartParts(body, boundary, {
        maxFieldBytes: 1024,
        maxParts: 8,
        maxHeaderBytes: 16_384,
      });
      for await (const part of parts) {
        if (part.kind === 'field') {
          if (part.name === 'purpose') purpose = part.value.trim();
          continue;
        }
        if (part.name !== 'file')
          throw invalid(`unexpected file part ${part.name}; send it as \`file\``, part.name);
        if (file) throw invalid('send one file per upload', 'file');
        const filename = part.filename.slice(0, 255) || 'upload.jsonl';
        // The purpose may come after the file (the openai client sends `file` first): the row is
        // written now and completed (or rolled back) once the body is read.
        const writer = await files.begin(c, { id, tenantId: tenant.id, purpose: 'batch', filename });
        async function* tap(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
          for await (const b of src) {
            await writer.write(b);
            yield b;
          }
        }
        let lines = 0;
        for await (const _ of jsonlLines(
          tap(part.body),
          { maxBodyBytes: maxBytes, maxItemBytes: this.deps.maxLineBytes, maxItems: this.deps.maxLines },
          {
            body: 'file',
            item: (n) => `file line ${n + 1}`,
            holds: 'a batch file holds at most',
            bodyParam: 'file',
            linesParam: 'file',
          },
        ))
          lines++;
        file = { filename, bytes: await writer.end(), lines };
      }
      if (!file) throw invalid('no `file` part in the upload', 'file');
      if (purpose === undefined) throw invalid('`purpose` is required (batch)', 'purpose');
      if (purpose !== 'batch')
        throw invalid(
          `purpose ${purpose} is not supported here; upload batch input with purpose batch`,
          'purpose',
        );
      if (file.lines === 0)
        throw invalid('the file has no lines; a batch file holds one request per line', 'file');
      await files.complete(c, id, { purpose, ...file });
    });
    return (await files.get(id, tenant.id))!;
  }
}

import { AppError } from '../errors/app-error';
import { paramOf } from '../errors/param-of';
import type { FilesRepo } from '../files/files-repo';
import type { SubmitService } from '../inference/submit-service';
import type { Logger } from '../observability/logger';
import { ErrorType } from '../shared/error-types';
import type { TenantWithLimits } from '../tenants/tenants-repo';
import { BATCH_FILE_ENDPOINTS, batchEndpointSpec, type BatchEndpointSpec } from './batch-endpoints';
import type { FileBatchFields, LineError, NewBatchItem } from './batch-repo';
import { batchLineSchema, type CreateBatchBody } from './batch-schemas';
import type { ChunkCheck, FileBatchSource } from './batch-service';
import { jsonlLines, type BatchStreamLimits } from './batch-stream';
import type { FileBatchMetrics } from './file-batch-metrics';

/** Options of {@link FileBatchReader}. */
export interface FileBatchReaderDeps {
  files: FilesRepo;
  /** Validates and tokenizes each line's body as the endpoint itself would. */
  submit: Pick<SubmitService, 'prepare'>;
  /** Bounds of the file as it is read (its size was bounded at upload). */
  limits: BatchStreamLimits;
  /** What the only accepted window, `24h`, lasts here, seconds (BATCH_COMPLETION_WINDOW_S). */
  completionWindowS: number;
  metrics: FileBatchMetrics;
  logger: Logger;
  /** Items per chunk written while the file is read. @default 1000 */
  chunkItems?: number;
}

/** Longest message kept for one invalid line. */
const MAX_MESSAGE = 500;

/** A line's problem, or its prepared item. */
type Checked = { item: NewBatchItem } | { error: Omit<LineError, 'line'> };

/**
 * Reads a batch from its input file: each line is checked on its own (JSON, `{custom_id, method:
 * "POST", url, body}`, `url` equal to the batch's endpoint, custom_id unique in the file, the body
 * valid and within the model's context as the endpoint would check it). A valid line becomes an item;
 * an invalid one a line error (its code and a message naming the field), reported in the error file.
 */
export class FileBatchReader implements FileBatchSource {
  constructor(private readonly deps: FileBatchReaderDeps) {}

  read(
    tenant: TenantWithLimits,
    batchId: string,
    body: CreateBatchBody,
    check: ChunkCheck,
  ): { items: AsyncIterable<NewBatchItem[]>; file: FileBatchFields } {
    const spec = batchEndpointSpec(body.endpoint);
    if (!spec)
      throw new AppError(
        ErrorType.InvalidRequest,
        `unsupported endpoint ${body.endpoint} for batches; use one of ${BATCH_FILE_ENDPOINTS.join(', ')}`,
        { param: 'endpoint' },
      );
    const file: FileBatchFields = {
      endpoint: body.endpoint,
      inputFileId: body.input_file_id,
      metadata: body.metadata ?? null,
      completionWindow: body.completion_window,
      windowS: this.deps.completionWindowS,
      lineErrors: [],
    };
    return { items: this.items(tenant, batchId, body, spec, file, check), file };
  }

  counted(valid: number, invalid: number): void {
    this.deps.metrics.lines.inc({ outcome: 'valid' }, valid);
    this.deps.metrics.lines.inc({ outcome: 'invalid' }, invalid);
  }

  private async *items(
    tenant: TenantWithLimits,
    batchId: string,
    body: CreateBatchBody,
    spec: BatchEndpointSpec,
    file: FileBatchFields,
    check: ChunkCheck,
  ): AsyncGenerator<NewBatchItem[]> {
    const stored = await this.deps.files.get(body.input_file_id, tenant.id);
    if (!stored)
      throw new AppError(ErrorType.NotFound, `no file ${body.input_file_id}`, { param: 'input_file_id' });
    if (stored.purpose !== 'batch')
      throw new AppError(
        ErrorType.InvalidRequest,
        `file ${stored.id} has purpose ${stored.purpose}; a batch reads a file uploaded with purpose batch`,
        { param: 'input_file_id' },
      );
    if (stored.lines === 0)
      throw new AppError(ErrorType.InvalidRequest, `file ${stored.id} has no lines`, {
        param: 'input_file_id',
      });
    const chunkItems = this.deps.chunkItems ?? 1000;
    const seen = new Set<string>();
    let chunk: NewBatchItem[] = [];
    let items = 0;
    let tokens = 0;
    for await (const raw of jsonlLines(this.deps.files.content(stored.id), this.deps.limits)) {
      const checked = await this.checkLine(tenant, raw.text, body.endpoint, spec, seen);
      if ('error' in checked) {
        const message = checked.error.message.slice(0, MAX_MESSAGE);
        file.lineErrors.push({
          ...checked.error,
          message: `line ${raw.index + 1}: ${message}`,
          line: raw.index,
        });
      } else {
        chunk.push(checked.item);
        items++;
        tokens += checked.item.input.estimatedTokens;
      }
      // Written a chunk at a time; line errors too (an empty chunk makes the store write them).
      if (chunk.length >= chunkItems || file.lineErrors.length >= chunkItems) {
        await check(items, tokens);
        yield chunk;
        chunk = [];
      }
    }
    await check(items, tokens);
    yield chunk;
    this.deps.logger.info(
      { batchId, tenant: tenant.id, file: stored.id, items, endpoint: body.endpoint },
      'batch read from file',
    );
  }

  private async checkLine(
    tenant: TenantWithLimits,
    text: string,
    endpoint: string,
    spec: BatchEndpointSpec,
    seen: Set<string>,
  ): Promise<Checked> {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return { error: { customId: null, code: 'invalid_json_line', message: 'the line is not valid JSON' } };
    }
    const customId =
      typeof (value as { custom_id?: unknown })?.custom_id === 'string'
        ? (value as { custom_id: string }).custom_id.slice(0, 128)
        : null;
    const line = batchLineSchema.safeParse(value);
    if (!line.success) {
      const issue = line.error.issues[0]!;
      const keys = issue.code === 'unrecognized_keys' ? `.${issue.keys[0]}` : '';
      return {
        error: {
          customId,
          code: 'invalid_request',
          message: `${paramOf(issue.path) || 'line'}${keys}: ${issue.message}`,
        },
      };
    }
    const { custom_id } = line.data;
    if (seen.has(custom_id))
      return {
        error: {
          customId,
          code: 'duplicate_custom_id',
          message: `custom_id ${custom_id} is used by an earlier line`,
        },
      };
    seen.add(custom_id);
    if (line.data.url !== endpoint)
      return {
        error: {
          customId,
          code: 'mismatched_url',
          message: `url ${line.data.url} is not the batch's endpoint ${endpoint}`,
        },
      };
    const parsed = spec.parse(line.data.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const keys = issue.code === 'unrecognized_keys' ? `.${issue.keys[0]}` : '';
      return {
        error: {
          customId,
          code: 'invalid_body',
          message: `body.${paramOf(issue.path)}${keys}: ${issue.message}`.replace('body.:', 'body:'),
        },
      };
    }
    if (parsed.stream)
      return {
        error: { customId, code: 'invalid_body', message: 'body.stream: a batch line cannot stream' },
      };
    const { submit, sampling } = parsed;
    try {
      const input = await this.deps.submit.prepare(tenant, submit, { quotaPreCheck: false });
      if (sampling) input.sampling = sampling;
      return { item: { customId: custom_id, input } };
    } catch (err) {
      if (
        !(err instanceof AppError) ||
        (err.type !== ErrorType.InvalidRequest && err.type !== ErrorType.NotFound)
      )
        throw err;
      return {
        error: {
          customId,
          code: err.type === ErrorType.NotFound ? 'model_not_found' : 'invalid_body',
          message: `body${err.param ? `.${err.param}` : ''}: ${err.message}`,
        },
      };
    }
  }
}

import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { AppError } from '../errors/app-error';
import type { SubmitService } from '../inference/submit-service';
import type { Logger } from '../observability/logger';
import type { QuotaHeadroom } from '../quota/quota-headroom';
import { quotaExceededError } from '../quota/refusal';
import { ErrorType } from '../shared/error-types';
import type { TenantWithLimits } from '../tenants/tenants-repo';
import { capExceeded, inFlight, lockTenantBatches, type BatchCaps, type InFlight } from './batch-caps';
import type { BatchGateway } from './batch-gateway';
import { checkItem, invalidItems, MAX_LISTED_ERRORS, type ItemProblem } from './batch-input';
import type { BatchMetrics } from './batch-metrics';
import type { BatchRepo, FileBatchFields, NewBatchItem } from './batch-repo';
import type { CreateBatchBody } from './batch-schemas';
import { batchItems, type BatchFormat, type BatchStreamLimits } from './batch-stream';
import { BATCH_ID_PREFIX, INLINE_ENDPOINT, type BatchRecord } from './batch-types';
import type { UploadGate } from './upload-gate';

/** Options of {@link BatchService}. */
export interface BatchServiceDeps {
  /** Validates and tokenizes each item as POST /v1/inference would (without its quota pre-check). */
  submit: Pick<SubmitService, 'prepare'>;
  batches: BatchRepo;
  gateway: BatchGateway;
  /** The tenant's token quota, looked at (not reserved) for the batch's total at create. */
  headroom: Pick<QuotaHeadroom, 'checkTokens'>;
  /** The database of `batches`, for the per-tenant in-flight sums. */
  pool: Pool;
  /** Per-tenant caps on batches, items and tokens in flight. */
  caps: BatchCaps;
  /** Batch bodies read at once, per process and per tenant. */
  gate: UploadGate;
  /** Bounds of the body, checked as it arrives. */
  limits: BatchStreamLimits;
  metrics: BatchMetrics;
  logger: Logger;
  /** Items of one batch running at once (BATCH_CONCURRENCY). */
  concurrency: number;
  /** Items one workflow run starts before it continues as new (BATCH_ITEMS_PER_RUN). */
  itemsPerRun: number;
  /** Bytes of item inputs per page the workflow reads. @default 524288 */
  pageBytes?: number;
  /** Run timeout of each item's workflow, seconds. @default none */
  childRunTimeoutS?: number;
  /** Batches made from an uploaded file. @default refused */
  fromFile?: FileBatchSource;
  /** Items written to PostgreSQL per statement while the body streams in. @default 1000 */
  chunkItems?: number;
  /** Body bytes of the items written per statement while the body streams in. @default 2097152 */
  chunkBytes?: number;
}

/** Sees the running totals at each chunk; a refusal (throw) there stops the read. */
export type ChunkCheck = (items: number, tokens: number) => Promise<void>;

/** How a batch is read from a stored file (file-batch-reader.ts). */
export interface FileBatchSource {
  /** The items of the file in chunks, with the line errors and the batch's file fields. */
  read(
    tenant: TenantWithLimits,
    batchId: string,
    body: CreateBatchBody,
    check: ChunkCheck,
  ): { items: AsyncIterable<NewBatchItem[]>; file: FileBatchFields };
  /** Told the valid and invalid lines of each stored batch (metrics). */
  counted(valid: number, invalid: number): void;
}

/** A POST /v1/batches body, unread: its format and its bytes as they arrive. */
export interface BatchUpload {
  format: BatchFormat;
  body: AsyncIterable<Buffer>;
}

/** How a create ended, for `inference_batches_created_total{outcome}` and the log line. */
function outcomeOf(err: unknown): string {
  if (!(err instanceof AppError)) return 'error';
  switch (err.type) {
    case ErrorType.RequestTooLarge:
      return 'too_large';
    case ErrorType.RequestTimeout:
      return 'too_slow';
    case ErrorType.QuotaExceeded:
      return err.param?.startsWith('batch') ? 'capped' : 'quota';
    case ErrorType.RateLimited:
    case ErrorType.Unavailable:
      return 'busy';
    default:
      return 'invalid';
  }
}

export const newBatchId = (): string => `${BATCH_ID_PREFIX}${randomUUID().replace(/-/g, '')}`;

/**
 * Accepts a batch as its body streams in: each item is counted, validated and tokenized like a
 * native submit as it arrives (a bad item is a 400 naming it; a body over a bound is refused at
 * once, without reading the rest), and written to PostgreSQL a chunk at a time in one transaction
 * that commits only when every item is in and the batch fits the tenant's token quota and batch
 * caps; then the batch workflow starts. Refused, nothing is stored. The items' quota is still
 * reserved by each item's own workflow when it starts, as any request's.
 */
export class BatchService {
  constructor(private readonly deps: BatchServiceDeps) {}

  async create(tenant: TenantWithLimits, upload: BatchUpload): Promise<BatchRecord> {
    return this.admit(tenant, INLINE_ENDPOINT, (id) => this.store(tenant, id, upload));
  }

  /**
   * Creates a batch from an uploaded file (POST /v1/batches with `input_file_id`): the same checks,
   * quota and caps as an inline batch, read from the stored file a chunk at a time. Invalid lines do
   * not refuse the batch: each is kept and reported in its error file.
   */
  async createFromFile(tenant: TenantWithLimits, body: CreateBatchBody): Promise<BatchRecord> {
    if (!this.deps.fromFile)
      throw new AppError(ErrorType.InvalidRequest, 'batches from files are not enabled here', {
        param: 'input_file_id',
      });
    const from = this.deps.fromFile;
    return this.admit(tenant, body.endpoint, (id) =>
      this.storeGuarded(tenant, id, (check) => from.read(tenant, id, body, check)),
    );
  }

  /**
   * Takes an upload slot, stores the batch with `store` (nothing stored if it throws), then starts
   * its workflow; counts and logs every outcome.
   */
  private async admit(
    tenant: TenantWithLimits,
    endpoint: string,
    store: (id: string) => Promise<number>,
  ): Promise<BatchRecord> {
    const { metrics, logger } = this.deps;
    const id = newBatchId();
    let release: (() => void) | undefined;
    let items: number;
    try {
      release = this.deps.gate.acquire(tenant.id);
      items = await store(id);
    } catch (err) {
      const outcome = outcomeOf(err);
      metrics.batchesCreated.inc({ outcome });
      const e = err instanceof AppError ? err : undefined;
      logger.info(
        { tenant: tenant.id, endpoint, outcome, param: e?.param, reason: e?.message },
        'batch refused',
      );
      throw err;
    } finally {
      release?.();
    }
    const { concurrency } = this.deps;
    try {
      await this.deps.gateway.start({
        batchId: id,
        tenantId: tenant.id,
        concurrency,
        itemsPerRun: this.deps.itemsPerRun,
        pageBytes: this.deps.pageBytes ?? 524_288,
        ...(this.deps.childRunTimeoutS ? { childRunTimeoutS: this.deps.childRunTimeoutS } : {}),
      });
    } catch (err) {
      await this.deps.batches
        .delete(id)
        .catch((e: unknown) => logger.error({ err: e, batchId: id }, 'delete after failed start'));
      logger.error({ err, batchId: id }, 'batch workflow start failed');
      metrics.batchesCreated.inc({ outcome: 'error' });
      throw new AppError(ErrorType.Unavailable, 'could not start the batch; retry later', {
        retryAfterS: 1,
        cause: err,
      });
    }
    metrics.batchesCreated.inc({ outcome: 'accepted' });
    metrics.itemsSubmitted.inc(items);
    logger.info({ batchId: id, tenant: tenant.id, endpoint, items, concurrency }, 'batch accepted');
    return (await this.deps.batches.get(id, tenant.id))!;
  }

  /** Reads, checks and stores the batch; its item count, or throws with nothing stored. */
  private store(tenant: TenantWithLimits, id: string, upload: BatchUpload): Promise<number> {
    return this.storeGuarded(tenant, id, (check) => ({ items: this.chunks(tenant, upload, check) }));
  }

  /**
   * Stores the items `read` yields under the caps and the token quota: refused at once when a cap is
   * already reached, as the running totals pass one (`check`, per chunk), and in the transaction
   * with the final totals. Returns the item count.
   */
  private async storeGuarded(
    tenant: TenantWithLimits,
    id: string,
    read: (check: ChunkCheck) => { items: AsyncIterable<NewBatchItem[]>; file?: FileBatchFields },
  ): Promise<number> {
    const { caps, pool, headroom } = this.deps;
    // Cheap refusals first, before a byte of the body is read.
    const open = await inFlight(pool, tenant.id);
    const early = (adding: Omit<InFlight, 'batches'>): AppError | undefined =>
      capExceeded(caps, open, { batches: 1, ...adding });
    const atOnce = early({ items: 0, tokens: 0 });
    if (atOnce) throw atOnce;

    const source = read(async (items, tokens) => {
      const over = early({ items, tokens });
      if (over) throw over;
      const h = await headroom.checkTokens(tenant.id, tokens);
      if (h.outcome === 'refused') throw quotaExceededError(h, tokens, 'this batch');
    });
    const chunks = source.items[Symbol.asyncIterator]();
    // The transaction opens once the first chunk is ready (a small batch: once it is all read).
    const first = await chunks.next();
    if (first.done && !source.file)
      throw new AppError(ErrorType.InvalidRequest, 'a batch needs at least one item', { param: 'items' });
    const rest = { [Symbol.asyncIterator]: () => chunks };
    async function* all(): AsyncGenerator<NewBatchItem[]> {
      if (first.done) return;
      yield first.value;
      yield* rest;
    }
    const totals = await this.deps.batches.create({
      id,
      tenantId: tenant.id,
      concurrency: this.deps.concurrency,
      items: all(),
      ...(source.file ? { file: source.file } : {}),
      admit: async (c, t) => {
        await lockTenantBatches(c, tenant.id);
        const over = capExceeded(caps, await inFlight(c, tenant.id, id), {
          batches: 1,
          items: t.items,
          tokens: t.estimatedTokens,
        });
        if (over) throw over;
        const h = await headroom.checkTokens(tenant.id, t.estimatedTokens);
        if (h.outcome === 'refused') throw quotaExceededError(h, t.estimatedTokens, 'this batch');
      },
    });
    if (source.file) this.deps.fromFile?.counted(totals.items, totals.invalidLines);
    return totals.items;
  }

  /**
   * The prepared items in chunks, as the body arrives. `check` sees the running totals at each
   * chunk (a refusal there stops the read). After the first invalid item nothing more is yielded;
   * items are still checked (not stored) to list up to {@link MAX_LISTED_ERRORS} problems.
   */
  private async *chunks(
    tenant: TenantWithLimits,
    upload: BatchUpload,
    check: ChunkCheck,
  ): AsyncGenerator<NewBatchItem[]> {
    const chunkItems = this.deps.chunkItems ?? 1000;
    const chunkBytes = this.deps.chunkBytes ?? 2_097_152;
    const problems: ItemProblem[] = [];
    const seen = new Map<string, number>();
    let chunk: NewBatchItem[] = [];
    let bytes = 0;
    let items = 0;
    let tokens = 0;
    let i = 0;
    for await (const raw of batchItems(upload.body, upload.format, this.deps.limits)) {
      const index = i++;
      const checked = checkItem(raw.value, index, seen);
      if ('problem' in checked) problems.push(checked.problem);
      else {
        try {
          // No per-item quota pre-check: the batch's total is checked instead.
          const input = await this.deps.submit.prepare(tenant, checked.item.body, { quotaPreCheck: false });
          if (!problems.length) {
            chunk.push({ customId: checked.item.custom_id, input });
            bytes += raw.bytes;
            items++;
            tokens += input.estimatedTokens;
          }
        } catch (err) {
          if (
            !(err instanceof AppError) ||
            (err.type !== ErrorType.InvalidRequest && err.type !== ErrorType.NotFound)
          )
            throw err;
          problems.push({
            param: `items[${index}].body${err.param ? `.${err.param}` : ''}`.replace('.[', '['),
            message: err.message,
          });
        }
      }
      if (problems.length >= MAX_LISTED_ERRORS) break;
      if (problems.length) {
        chunk = [];
        continue;
      }
      if (chunk.length >= chunkItems || bytes >= chunkBytes) {
        await check(items, tokens);
        yield chunk;
        chunk = [];
        bytes = 0;
      }
    }
    if (problems.length) throw invalidItems(problems);
    if (chunk.length) {
      await check(items, tokens);
      yield chunk;
    }
  }
}

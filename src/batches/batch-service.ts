import { randomUUID } from 'node:crypto';
import { AppError } from '../errors/app-error';
import type { SubmitService } from '../inference/submit-service';
import type { Logger } from '../observability/logger';
import { ErrorType } from '../shared/error-types';
import type { TenantWithLimits } from '../tenants/tenants-repo';
import type { BatchGateway } from './batch-gateway';
import { invalidItems, MAX_LISTED_ERRORS, parseItems, rawItems, type ItemProblem } from './batch-input';
import type { BatchMetrics } from './batch-metrics';
import type { BatchRepo, NewBatchItem } from './batch-repo';
import { BATCH_ID_PREFIX, type BatchRecord } from './batch-types';

/** Options of {@link BatchService}. */
export interface BatchServiceDeps {
  /** Validates and tokenizes each item as POST /v1/inference would (without its quota pre-check). */
  submit: Pick<SubmitService, 'prepare'>;
  batches: BatchRepo;
  gateway: BatchGateway;
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
}

export const newBatchId = (): string => `${BATCH_ID_PREFIX}${randomUUID().replace(/-/g, '')}`;

/**
 * Accepts a batch: every item is validated and tokenized like a native submit (so a bad item is a
 * 400 naming it and nothing is stored), then the batch and its items go to PostgreSQL in one
 * transaction and the batch workflow starts. Quota is not reserved here: each item's own workflow
 * reserves when it starts, and may be rejected then, as any request is.
 */
export class BatchService {
  constructor(private readonly deps: BatchServiceDeps) {}

  async create(tenant: TenantWithLimits, body: unknown): Promise<BatchRecord> {
    const { metrics, logger } = this.deps;
    let items: NewBatchItem[];
    try {
      items = await this.prepare(tenant, rawItems(body));
    } catch (err) {
      metrics.batchesCreated.inc({ outcome: 'invalid' });
      throw err;
    }
    const id = newBatchId();
    const { concurrency } = this.deps;
    await this.deps.batches.create({ id, tenantId: tenant.id, concurrency, items });
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
      throw new AppError(ErrorType.Unavailable, 'could not start the batch; retry later', {
        retryAfterS: 1,
        cause: err,
      });
    }
    metrics.batchesCreated.inc({ outcome: 'accepted' });
    metrics.itemsSubmitted.inc(items.length);
    logger.info({ batchId: id, tenant: tenant.id, items: items.length, concurrency }, 'batch accepted');
    return (await this.deps.batches.get(id, tenant.id))!;
  }

  /** Each item through the native submit's checks; the item's field is named in any error. */
  private async prepare(tenant: TenantWithLimits, raw: unknown[]): Promise<NewBatchItem[]> {
    const parsed = parseItems(raw);
    const problems: ItemProblem[] = [];
    const out: NewBatchItem[] = [];
    for (let i = 0; i < parsed.length && problems.length < MAX_LISTED_ERRORS; i++) {
      const item = parsed[i]!;
      try {
        // No quota pre-check: an item's quota is decided when its own workflow starts.
        const input = await this.deps.submit.prepare(tenant, item.body, { quotaPreCheck: false });
        out.push({ customId: item.custom_id, input });
      } catch (err) {
        if (
          !(err instanceof AppError) ||
          (err.type !== ErrorType.InvalidRequest && err.type !== ErrorType.NotFound)
        )
          throw err;
        problems.push({
          param: `items[${i}].body${err.param ? `.${err.param}` : ''}`.replace('.[', '['),
          message: err.message,
        });
      }
    }
    if (problems.length) throw invalidItems(problems);
    return out;
  }
}

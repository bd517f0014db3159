import type { Pool, PoolClient } from 'pg';
import type { AtRestSealer } from '../codec/at-rest-sealer';
import type { SealedPayload } from '../codec/payload-sealer';
import { withTransaction } from '../db/transaction';
import type { InferenceInput } from '../shared/types';
import { endBatch, type BatchEnded, type BatchEndedHook } from './batch-terminal';
import {
  BATCH_ITEM_STATES,
  INLINE_ENDPOINT,
  isTerminalBatch,
  type TerminalBatchStatus,
  type BatchItemState,
  type BatchRecord,
  type BatchResultLine,
  type BatchStatus,
} from './batch-types';

interface BatchRow {
  id: string;
  tenant_id: string;
  status: BatchStatus;
  total: number;
  concurrency: number;
  created_at: Date;
  started_at: Date | null;
  cancel_requested_at: Date | null;
  completed_at: Date | null;
  endpoint: string;
  input_file_id: string | null;
  output_file_id: string | null;
  error_file_id: string | null;
  metadata: Record<string, string> | null;
  completion_window: string | null;
  expires_at: Date | null;
  finalizing_at: Date | null;
  invalid_lines: number;
}

const toRecord = (r: BatchRow): BatchRecord => ({
  id: r.id,
  tenantId: r.tenant_id,
  status: r.status,
  total: r.total,
  concurrency: r.concurrency,
  createdAt: r.created_at,
  startedAt: r.started_at,
  cancelRequestedAt: r.cancel_requested_at,
  completedAt: r.completed_at,
  endpoint: r.endpoint,
  inputFileId: r.input_file_id,
  outputFileId: r.output_file_id,
  errorFileId: r.error_file_id,
  metadata: r.metadata,
  completionWindow: r.completion_window,
  expiresAt: r.expires_at,
  finalizingAt: r.finalizing_at,
  invalidLines: r.invalid_lines,
});

/** One line of a batch's input file refused at create: reported in its error file. */
export interface LineError {
  /** 0-based line of the file (blank lines excluded). */
  line: number;
  customId: string | null;
  code: string;
  message: string;
}

/** What a batch made from a file adds to its row. */
export interface FileBatchFields {
  endpoint: string;
  inputFileId: string;
  metadata: Record<string, string> | null;
  completionWindow: string;
  /** Seconds from creation to the end of its window (expires_at, set from the row's created_at). */
  windowS: number;
  /**
   * Line errors found so far; `create` writes and empties the list after each chunk of items, so it
   * holds at most a chunk's worth.
   */
  lineErrors: LineError[];
}

/** An item ready to store: its custom id and prepared workflow input. */
export interface NewBatchItem {
  customId: string;
  input: InferenceInput;
}

/** Items and estimated tokens (prompt + first reservation slice, as each item will reserve) of a stored batch. */
export interface BatchTotals {
  items: number;
  estimatedTokens: number;
}

/** How one item ended, as the output and error files report it. */
export interface ItemOutcome {
  idx: number;
  customId: string;
  requestId: string;
  state: BatchItemState;
  /** The request's model, accepted time, output and finish reason; null when it never started. */
  model: string | null;
  acceptedAt: Date | null;
  output: string | null;
  finishReason: string | null;
  /** Tokens charged (the ledger); null when nothing was charged. */
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
  error: { type: string; message: string } | null;
}

/** Writes a batch's output and error files in the finishing transaction (batch-files-writer.ts). */
export interface BatchFilesWriter {
  write(
    c: PoolClient,
    ended: Omit<BatchEnded, 'outputFileId' | 'errorFileId'>,
  ): Promise<{ outputFileId: string | null; errorFileId: string | null }>;
}

/** The state of an item: its request's status once admitted, else cancelled or pending. */
const ITEM_STATE = `COALESCE(r.status, CASE WHEN i.cancelled THEN 'cancelled' ELSE 'pending' END)`;

/** Rows per INSERT when storing items (well under PostgreSQL's 65535 bind parameters). */
const INSERT_CHUNK = 1000;

/**
 * Batches and their items in PostgreSQL. Item inputs (prompts) and the outputs results read are
 * sealed at rest like Temporal history (see AtRestSealer).
 */
export class BatchRepo {
  constructor(
    private readonly pool: Pool,
    /** Seals item inputs and opens outputs (PAYLOAD_KEYS); CLEAR_AT_REST keeps them in clear. */
    private readonly sealer: AtRestSealer,
    /** Told of each terminal transition, in its transaction (see endBatch). @default none */
    private readonly hooks: readonly BatchEndedHook[] = [],
  ) {}

  /**
   * Stores a batch and all its items in one transaction (status `validating`). `items` may be an
   * async stream of chunks (read while the transaction is open, so memory holds one chunk); `admit`
   * runs last, in the transaction, with the totals, and refuses by throwing: then nothing is stored.
   */
  async create(b: {
    id: string;
    tenantId: string;
    concurrency: number;
    items: NewBatchItem[] | AsyncIterable<NewBatchItem[]>;
    admit?: (c: PoolClient, totals: BatchTotals) => Promise<void>;
    /** Set for a batch made from a file (POST /v1/batches with input_file_id). @default inline */
    file?: FileBatchFields;
  }): Promise<BatchTotals & { invalidLines: number }> {
    const f = b.file;
    return withTransaction(this.pool, async (c) => {
      // `total` is set once every item is in; the row is invisible to others until COMMIT.
      await c.query(
        `INSERT INTO batches (id, tenant_id, status, total, concurrency, endpoint, input_file_id, metadata,
           completion_window, expires_at)
         VALUES ($1, $2, 'validating', 1, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))`,
        [
          b.id,
          b.tenantId,
          b.concurrency,
          f?.endpoint ?? INLINE_ENDPOINT,
          f?.inputFileId ?? null,
          f?.metadata ? JSON.stringify(f.metadata) : null,
          f?.completionWindow ?? null,
          f?.windowS ?? null,
        ],
      );
      const totals: BatchTotals = { items: 0, estimatedTokens: 0 };
      let invalidLines = 0;
      const writeLineErrors = async (): Promise<void> => {
        if (!f?.lineErrors.length) return;
        const errs = f.lineErrors.splice(0);
        invalidLines += errs.length;
        await c.query(
          `INSERT INTO batch_line_errors (batch_id, line, custom_id, code, message)
           SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[])`,
          [
            b.id,
            errs.map((e) => e.line),
            errs.map((e) => e.customId),
            errs.map((e) => e.code),
            errs.map((e) => e.message),
          ],
        );
      };
      const chunks = Array.isArray(b.items) ? [b.items] : b.items;
      for await (const chunk of chunks) {
        for (let start = 0; start < chunk.length; start += INSERT_CHUNK)
          await this.insertItems(c, b.id, totals.items + start, chunk.slice(start, start + INSERT_CHUNK));
        totals.items += chunk.length;
        for (const x of chunk) totals.estimatedTokens += x.input.estimatedTokens;
        await writeLineErrors();
      }
      await writeLineErrors();
      await b.admit?.(c, totals);
      await c.query(
        `UPDATE batches SET total = $2, estimated_tokens = $3, invalid_lines = $4 WHERE id = $1`,
        [b.id, totals.items, totals.estimatedTokens, invalidLines],
      );
      return { ...totals, invalidLines };
    });
  }

  private async insertItems(
    c: PoolClient,
    batchId: string,
    first: number,
    chunk: NewBatchItem[],
  ): Promise<void> {
    const inputs = await Promise.all(chunk.map((x) => this.sealer.seal(x.input)));
    await c.query(
      `INSERT INTO batch_items (batch_id, idx, custom_id, request_id, input)
       SELECT $1, t.idx, t.custom_id, t.request_id, t.input
       FROM unnest($2::int[], $3::text[], $4::text[], $5::jsonb[]) AS t(idx, custom_id, request_id, input)`,
      [
        batchId,
        chunk.map((_, i) => first + i),
        chunk.map((x) => x.customId),
        chunk.map((x) => x.input.requestId),
        inputs.map((x) => JSON.stringify(x)),
      ],
    );
  }

  /** Removes a batch whose workflow could not be started. */
  async delete(id: string): Promise<void> {
    await this.pool.query('DELETE FROM batches WHERE id = $1', [id]);
  }

  /** A tenant's batch with its items counted by state. */
  async get(id: string, tenantId?: string): Promise<BatchRecord | undefined> {
    const { rows } = await this.pool.query<BatchRow>(
      `SELECT * FROM batches WHERE id = $1 AND ($2::text IS NULL OR tenant_id = $2)`,
      [id, tenantId ?? null],
    );
    if (!rows[0]) return undefined;
    return { ...toRecord(rows[0]), counts: await this.counts(id) };
  }

  /** Items of a batch by state (every state present, zero when none). */
  async counts(id: string): Promise<Record<BatchItemState, number>> {
    const { rows } = await this.pool.query<{ state: BatchItemState; n: string }>(
      `SELECT ${ITEM_STATE} AS state, count(*) AS n
       FROM batch_items i LEFT JOIN requests r ON r.id = i.request_id
       WHERE i.batch_id = $1 GROUP BY 1`,
      [id],
    );
    const out = Object.fromEntries(BATCH_ITEM_STATES.map((s) => [s, 0])) as Record<BatchItemState, number>;
    for (const r of rows) out[r.state] = Number(r.n);
    return out;
  }

  /** A tenant's batches, newest first, after the given (created_at, id) position. */
  async list(
    tenantId: string,
    limit: number,
    after?: { createdAt: Date; id: string },
  ): Promise<BatchRecord[]> {
    const { rows } = await this.pool.query<BatchRow>(
      `SELECT * FROM batches WHERE tenant_id = $1
         AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
       ORDER BY created_at DESC, id DESC LIMIT $4`,
      [tenantId, after?.createdAt ?? null, after?.id ?? null, limit],
    );
    return rows.map(toRecord);
  }

  /** `validating` → `in_progress`; returns the status after (a cancel may have come first). */
  async markStarted(id: string): Promise<BatchStatus | undefined> {
    const { rows } = await this.pool.query<{ status: BatchStatus }>(
      `UPDATE batches SET status = CASE WHEN status = 'validating' THEN 'in_progress' ELSE status END,
         started_at = COALESCE(started_at, now())
       WHERE id = $1 RETURNING status`,
      [id],
    );
    return rows[0]?.status;
  }

  /** Asks a running batch to stop; false when it has already ended. */
  async requestCancel(id: string, tenantId: string): Promise<BatchStatus | undefined> {
    const { rows } = await this.pool.query<{ status: BatchStatus }>(
      `UPDATE batches SET status = CASE WHEN status IN ('validating', 'in_progress') THEN 'cancelling' ELSE status END,
         cancel_requested_at = COALESCE(cancel_requested_at, now())
       WHERE id = $1 AND tenant_id = $2 RETURNING status`,
      [id, tenantId],
    );
    return rows[0]?.status;
  }

  async status(id: string): Promise<BatchStatus | undefined> {
    const { rows } = await this.pool.query<{ status: BatchStatus }>(
      'SELECT status FROM batches WHERE id = $1',
      [id],
    );
    return rows[0]?.status;
  }

  /**
   * Items from `fromIdx` on, in order, at most `maxItems` and about `maxBytes` of input (at least one
   * item): what the workflow starts next.
   */
  async page(
    id: string,
    fromIdx: number,
    maxItems: number,
    maxBytes: number,
  ): Promise<{ idx: number; input: InferenceInput }[]> {
    const { rows } = await this.pool.query<{
      idx: number;
      input: InferenceInput | SealedPayload;
      bytes: number;
    }>(
      `SELECT idx, input, octet_length(input::text) AS bytes FROM batch_items
       WHERE batch_id = $1 AND idx >= $2 AND NOT cancelled ORDER BY idx LIMIT $3`,
      [id, fromIdx, maxItems],
    );
    const out: { idx: number; input: InferenceInput }[] = [];
    let bytes = 0;
    for (const r of rows) {
      if (out.length && bytes + r.bytes > maxBytes) break;
      bytes += r.bytes;
      out.push({ idx: r.idx, input: await this.sealer.open('batch_items', r.input) });
    }
    return out;
  }

  /**
   * Ends a batch, idempotently, through {@link endBatch}: items from `fromIdx` on that never started
   * are marked cancelled when it stops early. The status becomes `expired` (the expiry sweep asked),
   * `cancelled` (a cancel asked), `failed` (every line of its file was invalid) or `completed`. A
   * batch made from a file first shows `finalizing` (when completing) while `files` writes its
   * output and error files; they commit with the terminal status.
   */
  async finish(
    id: string,
    fromIdx: number,
    cancelled: boolean,
    files?: BatchFilesWriter,
  ): Promise<{ status: BatchStatus; changed: boolean }> {
    const plan = await withTransaction(this.pool, async (c) => {
      const row = await this.lockForEnd(c, id);
      if (!row || isTerminalBatch(row.status))
        return { done: { status: row?.status ?? 'cancelled', changed: false } };
      const target: TerminalBatchStatus = row.expire_requested
        ? 'expired'
        : cancelled || row.status === 'cancelling'
          ? 'cancelled'
          : row.total === 0 && row.invalid_lines > 0
            ? 'failed'
            : 'completed';
      if (target !== 'completed' && target !== 'failed') {
        await c.query(
          `UPDATE batch_items i SET cancelled = true WHERE batch_id = $1 AND idx >= $2
             AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.id = i.request_id)`,
          [id, fromIdx],
        );
      }
      const ended = { batchId: id, tenantId: row.tenant_id, status: target, endpoint: row.endpoint };
      if (row.endpoint === INLINE_ENDPOINT || !files) {
        await endBatch(c, { ...ended, outputFileId: null, errorFileId: null }, this.hooks);
        return { done: { status: target as BatchStatus, changed: true } };
      }
      if (target === 'completed')
        await c.query(
          `UPDATE batches SET status = 'finalizing', finalizing_at = COALESCE(finalizing_at, now()) WHERE id = $1`,
          [id],
        );
      return { ended };
    });
    if ('done' in plan) return plan.done!;
    const ended = plan.ended;
    return withTransaction(this.pool, async (c) => {
      const row = await this.lockForEnd(c, id);
      if (!row || isTerminalBatch(row.status)) return { status: row?.status ?? 'cancelled', changed: false };
      const written = await files!.write(c, ended);
      await endBatch(c, { ...ended, ...written }, this.hooks);
      return { status: ended.status, changed: true };
    });
  }

  private async lockForEnd(
    c: PoolClient,
    id: string,
  ): Promise<
    | {
        status: BatchStatus;
        tenant_id: string;
        endpoint: string;
        expire_requested: boolean;
        total: number;
        invalid_lines: number;
      }
    | undefined
  > {
    const { rows } = await c.query<{
      status: BatchStatus;
      tenant_id: string;
      endpoint: string;
      expire_requested: boolean;
      total: number;
      invalid_lines: number;
    }>(
      `SELECT status, tenant_id, endpoint, expire_requested, total, invalid_lines FROM batches
       WHERE id = $1 FOR UPDATE`,
      [id],
    );
    return rows[0];
  }

  /**
   * Asks open batches past their completion window to stop (`cancelling`, to end `expired`): all
   * of them (up to `limit`), or only `id`. Returns the ids it changed; each needs its workflow
   * cancelled. Idempotent, and safe from several API replicas at once.
   */
  async requestExpiry(opts: { id?: string; limit: number }): Promise<string[]> {
    const { rows } = await this.pool.query<{ id: string }>(
      `UPDATE batches SET status = 'cancelling', expire_requested = true,
         cancel_requested_at = COALESCE(cancel_requested_at, now())
       WHERE id IN (
         SELECT id FROM batches
         WHERE expires_at IS NOT NULL AND expires_at <= now() AND status IN ('validating', 'in_progress')
           AND ($1::text IS NULL OR id = $1)
         LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [opts.id ?? null, opts.limit],
    );
    return rows.map((r) => r.id);
  }

  /** Open batches whose expiry was asked but whose workflow may not have been told (a crash between). */
  async expiring(limit: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ id: string }>(
      `SELECT id FROM batches WHERE expire_requested AND status = 'cancelling'
         AND cancel_requested_at < now() - interval '1 minute' LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.id);
  }

  /** The invalid lines of a batch's file after `afterLine`, in order, `limit` at a time. */
  async lineErrors(
    id: string,
    afterLine: number,
    limit: number,
    db: Pool | PoolClient = this.pool,
  ): Promise<LineError[]> {
    const { rows } = await db.query<{
      line: number;
      custom_id: string | null;
      code: string;
      message: string;
    }>(
      `SELECT line, custom_id, code, message FROM batch_line_errors WHERE batch_id = $1 AND line > $2
       ORDER BY line LIMIT $3`,
      [id, afterLine, limit],
    );
    return rows.map((r) => ({ line: r.line, customId: r.custom_id, code: r.code, message: r.message }));
  }

  /**
   * How each item after `afterIdx` ended, in order, `limit` at a time, with its output and error
   * message opened: what the output and error files are written from. Reads through `db` (the
   * finishing transaction).
   */
  async outcomes(db: Pool | PoolClient, id: string, afterIdx: number, limit: number): Promise<ItemOutcome[]> {
    const { rows } = await db.query<{
      idx: number;
      custom_id: string;
      request_id: string;
      state: BatchItemState;
      model: string | null;
      accepted_at: Date | null;
      output: string | null;
      output_sealed: SealedPayload | null;
      finish_reason: string | null;
      prompt_tokens: number | null;
      completion_tokens: number | null;
      total_tokens: number | null;
      error_type: string | null;
      error_message: string | null;
      error_message_sealed: SealedPayload | null;
    }>(
      `SELECT i.idx, i.custom_id, i.request_id, ${ITEM_STATE} AS state, r.model, r.accepted_at, r.output,
              r.output_sealed, r.finish_reason, l.prompt_tokens, l.completion_tokens, l.total_tokens,
              r.error_type, r.error_message, r.error_message_sealed
       FROM batch_items i LEFT JOIN requests r ON r.id = i.request_id
       LEFT JOIN usage_ledger l ON l.request_id = i.request_id
       WHERE i.batch_id = $1 AND i.idx > $2 ORDER BY i.idx LIMIT $3`,
      [id, afterIdx, limit],
    );
    const out: ItemOutcome[] = [];
    for (const r of rows) {
      out.push({
        idx: r.idx,
        customId: r.custom_id,
        requestId: r.request_id,
        state: r.state,
        model: r.model,
        acceptedAt: r.accepted_at,
        output: await this.sealer.openColumns('requests', r.output_sealed, r.output),
        finishReason: r.finish_reason,
        usage:
          r.total_tokens === null
            ? null
            : {
                prompt_tokens: r.prompt_tokens!,
                completion_tokens: r.completion_tokens!,
                total_tokens: r.total_tokens,
              },
        error: r.error_type
          ? {
              type: r.error_type,
              message:
                (await this.sealer.openColumns('requests', r.error_message_sealed, r.error_message)) ?? '',
            }
          : null,
      });
    }
    return out;
  }

  /** Result lines of items after `afterIdx` in order, `limit` at a time (the results stream pages by this). */
  async results(
    id: string,
    afterIdx: number,
    limit: number,
  ): Promise<{ idx: number; line: BatchResultLine }[]> {
    const { rows } = await this.pool.query<{
      idx: number;
      custom_id: string;
      request_id: string;
      state: BatchItemState;
      output: string | null;
      output_sealed: SealedPayload | null;
      prompt_tokens: number | null;
      completion_tokens: number | null;
      total_tokens: number | null;
      error_type: string | null;
      error_message: string | null;
      error_message_sealed: SealedPayload | null;
    }>(
      `SELECT i.idx, i.custom_id, i.request_id, ${ITEM_STATE} AS state, r.output, r.output_sealed,
              l.prompt_tokens, l.completion_tokens, l.total_tokens, r.error_type, r.error_message,
              r.error_message_sealed
       FROM batch_items i LEFT JOIN requests r ON r.id = i.request_id
       LEFT JOIN usage_ledger l ON l.request_id = i.request_id
       WHERE i.batch_id = $1 AND i.idx > $2 ORDER BY i.idx LIMIT $3`,
      [id, afterIdx, limit],
    );
    const [outputs, messages] = await Promise.all([
      Promise.all(rows.map((r) => this.sealer.openColumns('requests', r.output_sealed, r.output))),
      Promise.all(
        rows.map((r) => this.sealer.openColumns('requests', r.error_message_sealed, r.error_message)),
      ),
    ]);
    return rows.map((r, i) => ({
      idx: r.idx,
      line: {
        custom_id: r.custom_id,
        id: r.request_id,
        status: r.state,
        output: outputs[i] ?? null,
        usage:
          r.total_tokens === null
            ? null
            : {
                prompt_tokens: r.prompt_tokens!,
                completion_tokens: r.completion_tokens!,
                total_tokens: r.total_tokens,
              },
        error: r.error_type ? { type: r.error_type, message: messages[i] ?? '' } : null,
      },
    }));
  }
}

import type { Pool, PoolClient } from 'pg';
import type { AtRestSealer } from '../codec/at-rest-sealer';
import type { SealedPayload } from '../codec/payload-sealer';
import { withTransaction } from '../db/transaction';
import type { InferenceInput } from '../shared/types';
import {
  BATCH_ITEM_STATES,
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
});

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
  }): Promise<BatchTotals> {
    return withTransaction(this.pool, async (c) => {
      // `total` is set once every item is in; the row is invisible to others until COMMIT.
      await c.query(
        `INSERT INTO batches (id, tenant_id, status, total, concurrency) VALUES ($1, $2, 'validating', 1, $3)`,
        [b.id, b.tenantId, b.concurrency],
      );
      const totals: BatchTotals = { items: 0, estimatedTokens: 0 };
      const chunks = Array.isArray(b.items) ? [b.items] : b.items;
      for await (const chunk of chunks) {
        for (let start = 0; start < chunk.length; start += INSERT_CHUNK)
          await this.insertItems(c, b.id, totals.items + start, chunk.slice(start, start + INSERT_CHUNK));
        totals.items += chunk.length;
        for (const x of chunk) totals.estimatedTokens += x.input.estimatedTokens;
      }
      await b.admit?.(c, totals);
      await c.query(`UPDATE batches SET total = $2, estimated_tokens = $3 WHERE id = $1`, [
        b.id,
        totals.items,
        totals.estimatedTokens,
      ]);
      return totals;
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
   * Ends a batch: items from `fromIdx` on that never started are marked cancelled when it was
   * cancelled; the status becomes `cancelled` (cancel asked) or `completed`. Idempotent.
   */
  async finish(
    id: string,
    fromIdx: number,
    cancelled: boolean,
  ): Promise<{ status: BatchStatus; changed: boolean }> {
    return withTransaction(this.pool, async (c) => {
      const { rows } = await c.query<{ status: BatchStatus }>(
        'SELECT status FROM batches WHERE id = $1 FOR UPDATE',
        [id],
      );
      const current = rows[0]?.status;
      if (current === 'completed' || current === 'cancelled' || current === undefined)
        return { status: current ?? 'cancelled', changed: false };
      const stop = cancelled || current === 'cancelling';
      if (stop) {
        await c.query(
          `UPDATE batch_items i SET cancelled = true WHERE batch_id = $1 AND idx >= $2
             AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.id = i.request_id)`,
          [id, fromIdx],
        );
      }
      const status: BatchStatus = stop ? 'cancelled' : 'completed';
      await c.query('UPDATE batches SET status = $2, completed_at = now() WHERE id = $1', [id, status]);
      return { status, changed: true };
    });
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

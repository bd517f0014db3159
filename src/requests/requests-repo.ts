import type { Pool, PoolClient } from 'pg';
import type { AtRestSealer } from '../codec/at-rest-sealer';
import type { SealedPayload } from '../codec/payload-sealer';
import { withTransaction } from '../db/transaction';
import type { ListPosition } from './list-cursor';
import type { WebhookEvent } from '../webhooks/webhook-events';
import {
  deliveriesSql,
  targetsSql,
  toDeliveryViews,
  toTargets,
  type DeliveryJson,
  type DeliveryView,
  type WebhookTarget,
} from '../webhooks/webhooks-repo';
import {
  REQUEST_STATUSES,
  TERMINAL_STATUSES,
  type InferenceInput,
  type PartialFinishReason,
  type RequestStatus,
  type Usage,
} from '../shared/types';

/**
 * A workflow input as the outbox of starts keeps it until its workflow starts: the Temporal payload
 * the data converter makes of it (encrypted when payload encryption is on), in JSON.
 */
export type SealedInput = SealedPayload;

/** A request as the API shows it. */
export interface RequestRecord {
  id: string;
  tenantId: string;
  model: string;
  status: RequestStatus;
  maxTokens: number;
  promptTokens: number;
  estimatedTokens: number;
  output: string | null;
  finishReason: string | null;
  /** Why this service stopped the generation (`quota_exhausted`), when it did; else null. */
  stopReason: string | null;
  usage: Usage | null;
  attempts: number;
  lastError: string | null;
  error: { type: string; message: string } | null;
  acceptedAt: Date;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
}

interface Row {
  id: string;
  tenant_id: string;
  model: string;
  status: RequestStatus;
  max_tokens: number;
  prompt_tokens: number;
  estimated_tokens: number;
  completion_tokens: number | null;
  total_tokens: number | null;
  /** Written in clear: with payload encryption off, or by an earlier version. */
  output: string | null;
  /** Written sealed, with payload encryption on (migration 008). */
  output_sealed: SealedPayload | null;
  finish_reason: string | null;
  /** Migration 010; absent before it. */
  stop_reason?: string | null;
  attempts: number;
  last_error: string | null;
  last_error_sealed: SealedPayload | null;
  error_type: string | null;
  error_message: string | null;
  error_message_sealed: SealedPayload | null;
  accepted_at: Date;
  created_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
}

const LEDGER_COLUMNS =
  'request_id, tenant_id, model, prompt_tokens, completion_tokens, total_tokens, window_at';

/** The request's one ledger row (unique by request id: a repeat writes nothing), windowed by acceptance. */
async function insertLedgerRow(
  client: PoolClient,
  input: Pick<InferenceInput, 'requestId' | 'tenantId' | 'model' | 'acceptedAt'>,
  usage: Usage,
): Promise<void> {
  await client.query(
    `INSERT INTO usage_ledger (${LEDGER_COLUMNS})
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (request_id) DO NOTHING`,
    [
      input.requestId,
      input.tenantId,
      input.model,
      usage.prompt_tokens,
      usage.completion_tokens,
      usage.total_tokens,
      input.acceptedAt,
    ],
  );
}

/** The values a row keeps sealed, opened. */
interface Opened {
  output: string | null;
  lastError: string | null;
  errorMessage: string | null;
}

function toRecord(r: Row, { output, lastError, errorMessage }: Opened): RequestRecord {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    model: r.model,
    status: r.status,
    maxTokens: r.max_tokens,
    promptTokens: r.prompt_tokens,
    estimatedTokens: r.estimated_tokens,
    output,
    finishReason: r.finish_reason,
    stopReason: r.stop_reason ?? null,
    usage:
      r.total_tokens === null
        ? null
        : {
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens ?? 0,
            total_tokens: r.total_tokens,
          },
    attempts: r.attempts,
    lastError,
    error: r.error_type ? { type: r.error_type, message: errorMessage ?? '' } : null,
    acceptedAt: r.accepted_at,
    createdAt: r.created_at,
    startedAt: r.started_at,
    completedAt: r.completed_at,
  };
}

/** Filters and page of {@link RequestsRepo.list}. */
export interface ListFilter {
  tenantId: string;
  status?: RequestStatus;
  model?: string;
  /** Only requests accepted strictly after this instant. */
  acceptedAfter?: Date;
  /** Continue after this position (the previous page's last request). */
  after?: ListPosition;
  limit: number;
}

/**
 * SQL of {@link RequestsRepo.list}, exported so a test can EXPLAIN it. The keyset condition is
 * written as `accepted_at <= a AND (accepted_at < a OR id < i)`, not a row comparison: the first
 * part is an index range on requests_tenant_accepted (or requests_tenant_status_accepted with a
 * status), and only rows of the same instant are filtered.
 */
export function listQuery(f: ListFilter): { text: string; values: unknown[] } {
  const values: unknown[] = [f.tenantId];
  const where = ['tenant_id = $1'];
  const param = (v: unknown): string => `$${values.push(v)}`;
  if (f.status !== undefined) where.push(`status = ${param(f.status)}`);
  if (f.model !== undefined) where.push(`model = ${param(f.model)}`);
  if (f.acceptedAfter !== undefined) where.push(`accepted_at > ${param(f.acceptedAfter)}`);
  if (f.after) {
    const at = param(f.after.acceptedAt);
    const id = param(f.after.id);
    where.push(`accepted_at <= ${at}::timestamptz AND (accepted_at < ${at}::timestamptz OR id < ${id})`);
  }
  return {
    text: `SELECT *, to_char(accepted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
      FROM requests WHERE ${where.join(' AND ')}
      ORDER BY accepted_at DESC, id DESC LIMIT ${param(f.limit + 1)}`,
    values,
  };
}

/** Whose webhook targets a terminal update also reads: the request's tenant. */
export interface TargetsOf {
  tenantId: string;
}

/** SQL list of the terminal statuses (their one definition is TERMINAL_STATUSES). */
export const TERMINAL = `(${TERMINAL_STATUSES.map((t) => `'${t}'`).join(', ')})`;
/** SQL list of the statuses before a terminal one (queued, running), for index-friendly `IN`. */
export const UNFINISHED = `(${REQUEST_STATUSES.filter((t) => !TERMINAL_STATUSES.includes(t))
  .map((t) => `'${t}'`)
  .join(', ')})`;

/**
 * Request rows and the usage ledger. Every write is idempotent (safe to repeat after a crash) and
 * never moves a request out of a terminal status. The output and the error messages (a model
 * service's error may quote the prompt) are sealed at rest like Temporal history when payload
 * encryption is on (`output_sealed`, `last_error_sealed`, `error_message_sealed`; the clear columns
 * are then NULL); values written in clear before stay readable.
 */
export class RequestsRepo {
  constructor(
    private readonly pool: Pool,
    /** Seals and opens outputs and error messages (PAYLOAD_KEYS); CLEAR_AT_REST keeps them in clear. */
    private readonly sealer: AtRestSealer,
  ) {}

  /** A value's two columns as written: sealed with encryption on, else in clear. */
  private async columns(text: string): Promise<[string | null, SealedPayload | null]> {
    const sealed = await this.sealer.sealOrSkip(text);
    return sealed ? [null, sealed] : [text, null];
  }

  private async toRecord(r: Row): Promise<RequestRecord> {
    const [output, lastError, errorMessage] = await Promise.all([
      this.sealer.openColumns('requests', r.output_sealed, r.output),
      this.sealer.openColumns('requests', r.last_error_sealed, r.last_error),
      this.sealer.openColumns('requests', r.error_message_sealed, r.error_message),
    ]);
    return toRecord(r, { output, lastError, errorMessage });
  }

  /**
   * Inserts the request as queued; a repeat is a no-op. With `startInput`, the same statement puts
   * the sealed workflow input in the outbox of starts (PendingStartsRepo) until the workflow starts.
   */
  async insertQueued(input: InferenceInput, startInput?: SealedInput): Promise<void> {
    const insert = `INSERT INTO requests (id, tenant_id, model, status, max_tokens, prompt_tokens, estimated_tokens, accepted_at)
       VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`;
    const values = [
      input.requestId,
      input.tenantId,
      input.model,
      input.maxTokens,
      input.promptTokens,
      input.estimatedTokens,
      input.acceptedAt,
    ];
    if (!startInput) {
      await this.pool.query(insert, values);
      return;
    }
    await this.pool.query(
      `WITH request AS (${insert})
       INSERT INTO pending_starts (request_id, accepted_at, input) VALUES ($1, $7, $8)
       ON CONFLICT (request_id) DO NOTHING`,
      [...values, startInput],
    );
  }

  /**
   * Records that a model-call attempt started. A new attempt drops the partial output of the previous
   * one: only the last attempt's output is ever kept and charged.
   */
  async markAttempt(id: string, attempt: number): Promise<void> {
    await this.pool.query(
      `UPDATE requests SET status = 'running', attempts = GREATEST(attempts, $2),
         output = CASE WHEN attempts < $2 THEN NULL ELSE output END,
         output_sealed = CASE WHEN attempts < $2 THEN NULL ELSE output_sealed END,
         completion_tokens = CASE WHEN attempts < $2 THEN NULL ELSE completion_tokens END,
         finish_reason = CASE WHEN attempts < $2 THEN NULL ELSE finish_reason END,
         started_at = COALESCE(started_at, now()), updated_at = now()
       WHERE id = $1 AND status NOT IN ${TERMINAL} AND total_tokens IS NULL`,
      [id, attempt],
    );
  }

  /**
   * Keeps the output an attempt produced before it ended without a result (cancelled, timed out,
   * connection lost). Only the current attempt may write it, so a late report of an abandoned
   * attempt cannot overwrite a newer one.
   */
  async recordPartial(
    id: string,
    attempt: number,
    output: string,
    completionTokens: number,
    reason: PartialFinishReason,
  ): Promise<void> {
    const [clear, sealed] = await this.columns(output);
    await this.pool.query(
      `UPDATE requests SET output = $3, output_sealed = $6, completion_tokens = $4, finish_reason = $5,
         updated_at = now()
       WHERE id = $1 AND attempts = $2 AND status NOT IN ${TERMINAL} AND total_tokens IS NULL`,
      [id, attempt, clear, completionTokens, reason, sealed],
    );
  }

  /**
   * Charges a request that ends without a result for the output its last attempt produced: prompt +
   * produced tokens go to the row and the ledger, once. Returns that usage (also on a repeat), or
   * undefined when nothing was produced and nothing is charged.
   */
  async chargePartial(
    input: Pick<InferenceInput, 'requestId' | 'tenantId' | 'model' | 'acceptedAt'>,
  ): Promise<Usage | undefined> {
    return withTransaction(this.pool, async (client) => {
      const { rows } = await client.query<Pick<Row, 'prompt_tokens' | 'completion_tokens' | 'total_tokens'>>(
        'SELECT prompt_tokens, completion_tokens, total_tokens FROM requests WHERE id = $1 FOR UPDATE',
        [input.requestId],
      );
      const row = rows[0];
      if (!row || !row.completion_tokens) return undefined;
      const usage: Usage = {
        prompt_tokens: row.prompt_tokens,
        completion_tokens: row.completion_tokens,
        total_tokens: row.prompt_tokens + row.completion_tokens,
      };
      if (row.total_tokens === null) {
        await client.query('UPDATE requests SET total_tokens = $2, updated_at = now() WHERE id = $1', [
          input.requestId,
          usage.total_tokens,
        ]);
      }
      await insertLedgerRow(client, input, usage);
      return usage;
    });
  }

  /**
   * Whether the request is a line of a batch whose completion window passed (the expiry stopped it):
   * such a line is charged nothing, whatever it produced (OpenAI's batch terms).
   */
  async isExpiredBatchLine(requestId: string): Promise<boolean> {
    const { rows } = await this.pool.query<{ expired: boolean }>(
      `SELECT b.expire_requested AS expired FROM batch_items i JOIN batches b ON b.id = i.batch_id
       WHERE i.request_id = $1`,
      [requestId],
    );
    return rows[0]?.expired === true;
  }

  /** Records the error of a failed attempt (the request may still be retried). */
  async recordAttemptError(id: string, attempt: number, message: string): Promise<void> {
    const [clear, sealed] = await this.columns(message.slice(0, 2000));
    await this.pool.query(
      `UPDATE requests SET last_error = $3, last_error_sealed = $4, attempts = GREATEST(attempts, $2),
         updated_at = now()
       WHERE id = $1 AND status NOT IN ${TERMINAL}`,
      [id, attempt, clear, sealed],
    );
  }

  /**
   * Stores the output and usage and writes the ledger row, atomically: one statement (the update is
   * a data-modifying CTE of the ledger insert), so one round trip instead of BEGIN, two statements
   * and COMMIT. The status stays `running` until the quota commit ({@link markCompleted}), so a
   * client that sees `completed` also sees its quota settled. Repeating it changes nothing: the
   * ledger is unique by request id.
   */
  async recordResult(
    input: Pick<InferenceInput, 'requestId' | 'tenantId' | 'model' | 'acceptedAt'>,
    result: { text: string; usage: Usage; finishReason: string; stopReason?: string },
  ): Promise<void> {
    const [clear, sealed] = await this.columns(result.text);
    await this.pool.query(
      `WITH recorded AS (
         UPDATE requests SET output = $2, output_sealed = $10, finish_reason = $3, prompt_tokens = $4,
           completion_tokens = $5, total_tokens = $6, stop_reason = $11, updated_at = now()
         WHERE id = $1 AND status NOT IN ${TERMINAL}
       )
       INSERT INTO usage_ledger (${LEDGER_COLUMNS})
       VALUES ($1, $7, $8, $4, $5, $6, $9) ON CONFLICT (request_id) DO NOTHING`,
      [
        input.requestId,
        clear,
        result.finishReason,
        result.usage.prompt_tokens,
        result.usage.completion_tokens,
        result.usage.total_tokens,
        input.tenantId,
        input.model,
        input.acceptedAt,
        sealed,
        result.stopReason ?? null,
      ],
    );
  }

  /**
   * Raises an open request's reservation (`estimated_tokens`) to at least `tokens`: the GPU worker
   * writes each slice of a reservation in slices here before Redis, so a rebuild of the tenant's
   * quota from PostgreSQL reserves what the running generation may use. Idempotent.
   */
  async raiseReservation(id: string, tokens: number): Promise<void> {
    await this.pool.query(
      `UPDATE requests SET estimated_tokens = $2, updated_at = now()
       WHERE id = $1 AND status IN ${UNFINISHED} AND estimated_tokens < $2`,
      [id, tokens],
    );
  }

  /**
   * Marks a request whose result is recorded as completed; a repeat is a no-op. With `targetsOf`,
   * the same statement reads the webhook targets of the `completed` event (one round trip instead
   * of two on every completion), whether or not this call moved the status, so a retry finds them.
   */
  async markCompleted(id: string, targetsOf?: TargetsOf): Promise<WebhookTarget[]> {
    const update = `UPDATE requests SET status = 'completed', completed_at = now(), updated_at = now()
       WHERE id = $1 AND status NOT IN ${TERMINAL} AND total_tokens IS NOT NULL`;
    return this.endWith(update, [id], 'completed', targetsOf);
  }

  /**
   * Moves the request to failed/cancelled/rejected with its error; a repeat is a no-op. With
   * `targetsOf`, also reads the webhook targets of that event, as {@link markCompleted} does.
   */
  async finish(
    id: string,
    status: Extract<RequestStatus, 'failed' | 'cancelled' | 'rejected'>,
    error: { type: string; message: string },
    targetsOf?: TargetsOf,
  ): Promise<WebhookTarget[]> {
    const update = `UPDATE requests SET status = $2, error_type = $3, error_message = $4, error_message_sealed = $5,
         completed_at = now(), updated_at = now()
       WHERE id = $1 AND status NOT IN ${TERMINAL}`;
    const [clear, sealed] = await this.columns(error.message.slice(0, 2000));
    return this.endWith(update, [id, status, error.type, clear, sealed], status, targetsOf);
  }

  /** Runs a terminal UPDATE whose first parameter is the request id, alone or with the targets read. */
  private async endWith(
    update: string,
    values: unknown[],
    event: WebhookEvent,
    targetsOf: TargetsOf | undefined,
  ): Promise<WebhookTarget[]> {
    if (!targetsOf) {
      await this.pool.query(update, values);
      return [];
    }
    const n = values.length;
    // A data-modifying CTE runs to completion whether or not the query reads it.
    const { rows } = await this.pool.query<{ endpoint_id: string; url: string; openai_event: string | null }>(
      `WITH ended AS (${update}) ${targetsSql('$1', `$${n + 1}`, `$${n + 2}`)}`,
      [...values, targetsOf.tenantId, event],
    );
    return toTargets(rows);
  }

  /**
   * A page of the tenant's requests, newest first, and the position after its last one when more
   * follow (one extra row is read to know).
   */
  async list(f: ListFilter): Promise<{ data: RequestRecord[]; next?: ListPosition }> {
    const q = listQuery(f);
    const { rows } = await this.pool.query<Row & { cursor_at: string }>(q.text, q.values);
    const page = rows.slice(0, f.limit);
    const last = page[page.length - 1];
    return {
      data: await Promise.all(page.map((r) => this.toRecord(r))),
      next: rows.length > f.limit && last ? { acceptedAt: last.cursor_at, id: last.id } : undefined,
    };
  }

  /** The request if it belongs to the tenant. */
  async get(id: string, tenantId: string): Promise<RequestRecord | undefined> {
    const { rows } = await this.pool.query<Row>('SELECT * FROM requests WHERE id = $1 AND tenant_id = $2', [
      id,
      tenantId,
    ]);
    return rows[0] && this.toRecord(rows[0]);
  }

  /**
   * The request if it belongs to the tenant, with its webhook deliveries once it is terminal (they
   * are created only after that), read in the same statement.
   */
  async getWithDeliveries(
    id: string,
    tenantId: string,
  ): Promise<{ record: RequestRecord; deliveries: DeliveryView[] } | undefined> {
    const { rows } = await this.pool.query<Row & { deliveries: DeliveryJson[] | null }>(
      `SELECT r.*, CASE WHEN r.status IN ${TERMINAL} THEN ${deliveriesSql('r.id', 'r.tenant_id')} END AS deliveries
       FROM requests r WHERE r.id = $1 AND r.tenant_id = $2`,
      [id, tenantId],
    );
    const row = rows[0];
    return row && { record: await this.toRecord(row), deliveries: toDeliveryViews(row.deliveries ?? []) };
  }
}

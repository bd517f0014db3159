import type { Pool } from 'pg';
import type { AtRestSealer } from '../codec/at-rest-sealer';
import type { SealedPayload } from '../codec/payload-sealer';
import type { InferenceInput } from '../shared/types';

/** A response recorded for replay. */
export interface StoredResponse {
  status: number;
  body: unknown;
}

/** One tenant's Idempotency-Key and the request it is bound to. */
export interface IdempotencyRecord {
  tenantId: string;
  key: string;
  endpoint: string;
  bodyHash: string;
  requestId: string;
  /** `pending`: bound to a request id, its start not known to have finished; `started`: done. */
  state: 'pending' | 'started';
  input: InferenceInput;
  response?: StoredResponse;
  createdAt: Date;
}

interface Row {
  tenant_id: string;
  idem_key: string;
  endpoint: string;
  body_hash: string;
  request_id: string;
  state: 'pending' | 'started';
  /** Sealed when payload encryption is on; in clear when it is off or written by an earlier version. */
  input: InferenceInput | SealedPayload;
  response_status: number | null;
  response_body: unknown;
  created_at: Date;
}

const toRecord = async (r: Row, sealer: AtRestSealer): Promise<IdempotencyRecord> => ({
  tenantId: r.tenant_id,
  key: r.idem_key,
  endpoint: r.endpoint,
  bodyHash: r.body_hash,
  requestId: r.request_id,
  state: r.state,
  input: await sealer.open('idempotency_keys', r.input),
  ...(r.response_status !== null ? { response: { status: r.response_status, body: r.response_body } } : {}),
  createdAt: r.created_at,
});

/**
 * Idempotency keys in PostgreSQL, scoped by tenant. A key is bound to its request id (and the whole
 * workflow input) before anything is reserved or started, so every retry finds the same request.
 * The input (the prompt) is sealed at rest like Temporal history (see AtRestSealer); the recorded
 * response holds no prompt or output (the 202 body), so it stays in clear.
 */
export class IdempotencyStore {
  constructor(
    private readonly pool: Pool,
    /** Seconds a key is kept (IDEMPOTENCY_TTL_S). */
    private readonly ttlS: number,
    /** Seals the bound input (PAYLOAD_KEYS); CLEAR_AT_REST keeps it in clear. */
    private readonly sealer: AtRestSealer,
  ) {}

  /** The key's record unless it expired. */
  async find(tenantId: string, key: string): Promise<IdempotencyRecord | undefined> {
    const { rows } = await this.pool.query<Row>(
      'SELECT * FROM idempotency_keys WHERE tenant_id = $1 AND idem_key = $2 AND expires_at > now()',
      [tenantId, key],
    );
    return rows[0] ? toRecord(rows[0], this.sealer) : undefined;
  }

  /** Binds the key to `input` as `pending`; false when the key is taken (and not expired). */
  async insertPending(r: {
    tenantId: string;
    key: string;
    endpoint: string;
    bodyHash: string;
    input: InferenceInput;
  }): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO idempotency_keys (tenant_id, idem_key, endpoint, body_hash, request_id, state, input, expires_at)
       VALUES ($1, $2, $3, $4, $5, 'pending', $6, now() + make_interval(secs => $7))
       ON CONFLICT (tenant_id, idem_key) DO UPDATE SET
         endpoint = EXCLUDED.endpoint, body_hash = EXCLUDED.body_hash, request_id = EXCLUDED.request_id,
         state = 'pending', input = EXCLUDED.input, response_status = NULL, response_body = NULL,
         created_at = now(), locked_at = now(), expires_at = EXCLUDED.expires_at
       WHERE idempotency_keys.expires_at <= now()`,
      [
        r.tenantId,
        r.key,
        r.endpoint,
        r.bodyHash,
        r.input.requestId,
        await this.sealer.seal(r.input),
        this.ttlS,
      ],
    );
    return rowCount === 1;
  }

  /**
   * Takes over a `pending` key whose owner has not touched it for `staleS` seconds (it died, or its
   * start failed and it let go); at most one caller wins.
   */
  async claimStale(tenantId: string, key: string, staleS: number): Promise<IdempotencyRecord | undefined> {
    const { rows } = await this.pool.query<Row>(
      `UPDATE idempotency_keys SET locked_at = now()
       WHERE tenant_id = $1 AND idem_key = $2 AND state = 'pending' AND expires_at > now()
         AND locked_at <= now() - make_interval(secs => $3)
       RETURNING *`,
      [tenantId, key, staleS],
    );
    return rows[0] ? toRecord(rows[0], this.sealer) : undefined;
  }

  /** Binds a claimed key to a new request (the old one was refused or released, never started). */
  async rebind(tenantId: string, key: string, oldRequestId: string, input: InferenceInput): Promise<void> {
    await this.pool.query(
      `UPDATE idempotency_keys SET request_id = $4, input = $5, locked_at = now()
       WHERE tenant_id = $1 AND idem_key = $2 AND request_id = $3 AND state = 'pending'`,
      [tenantId, key, oldRequestId, input.requestId, await this.sealer.seal(input)],
    );
  }

  /** Lets a retry re-drive the key at once (the start failed; nothing is left running). */
  async release(tenantId: string, key: string, requestId: string): Promise<void> {
    await this.pool.query(
      `UPDATE idempotency_keys SET locked_at = '-infinity'
       WHERE tenant_id = $1 AND idem_key = $2 AND request_id = $3 AND state = 'pending'`,
      [tenantId, key, requestId],
    );
  }

  /** Forgets a key whose request was refused before anything was reserved or started. */
  async forget(tenantId: string, key: string, requestId: string): Promise<void> {
    await this.pool.query(
      `DELETE FROM idempotency_keys WHERE tenant_id = $1 AND idem_key = $2 AND request_id = $3 AND state = 'pending'`,
      [tenantId, key, requestId],
    );
  }

  /** Marks the key's request started, with the response to replay when there is one. */
  async markStarted(
    tenantId: string,
    key: string,
    requestId: string,
    response?: StoredResponse,
  ): Promise<void> {
    await this.pool.query(
      `UPDATE idempotency_keys SET state = 'started', response_status = COALESCE($4, response_status),
         response_body = COALESCE($5, response_body)
       WHERE tenant_id = $1 AND idem_key = $2 AND request_id = $3`,
      [tenantId, key, requestId, response?.status ?? null, response ? JSON.stringify(response.body) : null],
    );
  }

  /** Deletes up to `limit` expired keys; returns how many. */
  async deleteExpired(limit = 1000): Promise<number> {
    const { rowCount } = await this.pool.query(
      `DELETE FROM idempotency_keys WHERE ctid IN (
         SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT $1)`,
      [limit],
    );
    return rowCount ?? 0;
  }
}

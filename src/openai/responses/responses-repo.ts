import type { Pool } from 'pg';
import type { AtRestSealer } from '../../codec/at-rest-sealer';
import type { StoredResponseRequest } from './response-request';

/** A response's own row (migration 012): what it adds to its request. */
export interface ResponseRow {
  id: string;
  tenantId: string;
  model: string;
  background: boolean;
  store: boolean;
  /** Instructions and input items, opened; null when created with `store: false` or deleted. */
  request: StoredResponseRequest | null;
  metadata: Record<string, string>;
  createdAt: Date;
}

/** What a new response row holds. */
export interface NewResponse {
  id: string;
  tenantId: string;
  model: string;
  background: boolean;
  store: boolean;
  request: StoredResponseRequest;
  metadata: Record<string, string>;
  /** The request's acceptance: every view of the response shows this `created_at`. */
  createdAt: Date;
}

/** The `responses` table: one row per response, tenant-scoped reads, deletes that drop the prompt. */
export class ResponsesRepo {
  constructor(
    private readonly pool: Pool,
    /** Seals the stored request (instructions and input: a prompt) when payload encryption is on. */
    private readonly sealer: AtRestSealer,
  ) {}

  /**
   * Writes the response's row once (a retried accept with the same id changes nothing). With
   * `store: false` the request is not kept.
   */
  async insert(r: NewResponse): Promise<void> {
    const request = r.store ? JSON.stringify(await this.sealer.seal(r.request)) : null;
    await this.pool.query(
      `INSERT INTO responses (request_id, tenant_id, model, background, store, request, metadata, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (request_id) DO NOTHING`,
      [r.id, r.tenantId, r.model, r.background, r.store, request, JSON.stringify(r.metadata), r.createdAt],
    );
  }

  /**
   * The tenant's stored response (not deleted, not `store: false`); undefined otherwise, so another
   * tenant's id, a deleted one and an unstored one all read as absent.
   */
  async get(id: string, tenantId: string): Promise<ResponseRow | undefined> {
    const { rows } = await this.pool.query<{
      request_id: string;
      model: string;
      background: boolean;
      store: boolean;
      request: unknown;
      metadata: Record<string, string>;
      created_at: Date;
    }>(
      `SELECT request_id, model, background, store, request, metadata, created_at FROM responses
       WHERE request_id = $1 AND tenant_id = $2 AND store AND deleted_at IS NULL`,
      [id, tenantId],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      id: r.request_id,
      tenantId,
      model: r.model,
      background: r.background,
      store: r.store,
      request:
        r.request === null ? null : await this.sealer.open('responses', r.request as StoredResponseRequest),
      metadata: r.metadata,
      createdAt: r.created_at,
    };
  }

  /** Deletes a stored response: its prompt is dropped at once; false when there was none to delete. */
  async delete(id: string, tenantId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE responses SET request = NULL, metadata = '{}'::jsonb, deleted_at = now()
       WHERE request_id = $1 AND tenant_id = $2 AND store AND deleted_at IS NULL`,
      [id, tenantId],
    );
    return rowCount === 1;
  }
}

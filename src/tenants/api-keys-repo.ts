import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { withTransaction } from '../db/transaction';
import { AdminAuditRepo } from './admin-audit-repo';
import { generateApiKey, hashApiKey, visiblePrefix } from './api-key';

/** An API key as operators see it: never its secret or its hash. */
export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  /** Visible start of the key (`sk-live-AbCd`); '' for keys created before prefixes were stored. */
  prefix: string;
  label: string;
  createdAt: Date;
  /** When it stops (stopped) working; in the future during a rotation's grace period. */
  revokedAt: Date | null;
}

/** A key just made: the only moment its secret exists outside the client. */
export interface CreatedApiKey extends ApiKeyRecord {
  secret: string;
}

interface Row {
  id: string;
  tenant_id: string;
  prefix: string;
  label: string;
  created_at: Date;
  revoked_at: Date | null;
}

const COLUMNS = 'id, tenant_id, prefix, label, created_at, revoked_at';

function toRecord(r: Row): ApiKeyRecord {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    prefix: r.prefix,
    label: r.label,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  };
}

/** Outcome of revoking or rotating a key that could not be done. */
export type KeyRefusal = 'no_tenant' | 'no_key' | 'revoked';

/**
 * A tenant's API keys, stored as SHA-256 digests plus a visible prefix. Every change writes its
 * admin action log entry in the same transaction: both happen or neither.
 */
export class ApiKeysRepo {
  private readonly audit: AdminAuditRepo;
  constructor(private readonly pool: Pool) {
    this.audit = new AdminAuditRepo(pool);
  }

  private async insert(client: PoolClient, tenantId: string, label: string): Promise<CreatedApiKey> {
    const secret = generateApiKey();
    const { rows } = await client.query<Row>(
      `INSERT INTO api_keys (id, tenant_id, key_hash, label, prefix) VALUES ($1, $2, $3, $4, $5)
       RETURNING ${COLUMNS}`,
      [`key_${randomUUID().replace(/-/g, '')}`, tenantId, hashApiKey(secret), label, visiblePrefix(secret)],
    );
    return { ...toRecord(rows[0]!), secret };
  }

  private async tenantExists(client: PoolClient, tenantId: string): Promise<boolean> {
    // FOR SHARE: a key cannot be added to a tenant being deleted concurrently.
    return Boolean(
      (await client.query('SELECT 1 FROM tenants WHERE id = $1 FOR SHARE', [tenantId])).rowCount,
    );
  }

  /** A new key for the tenant; undefined when there is no such tenant. */
  async create(tenantId: string, label: string, actor: string): Promise<CreatedApiKey | undefined> {
    return withTransaction(this.pool, async (client) => {
      if (!(await this.tenantExists(client, tenantId))) return undefined;
      const key = await this.insert(client, tenantId, label);
      await this.audit.record(
        {
          actor,
          action: 'api_key.create',
          tenantId,
          target: key.id,
          params: { label, prefix: key.prefix },
        },
        client,
      );
      return key;
    });
  }

  /** The tenant's keys, newest first; undefined when there is no such tenant. */
  async list(tenantId: string): Promise<ApiKeyRecord[] | undefined> {
    const t = await this.pool.query('SELECT 1 FROM tenants WHERE id = $1', [tenantId]);
    if (!t.rowCount) return undefined;
    const { rows } = await this.pool.query<Row>(
      `SELECT ${COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC`,
      [tenantId],
    );
    return rows.map(toRecord);
  }

  /** Locks the key row; the refusal when it cannot be revoked now. */
  private async lockActive(
    client: PoolClient,
    tenantId: string,
    keyId: string,
  ): Promise<ApiKeyRecord | KeyRefusal> {
    if (!(await this.tenantExists(client, tenantId))) return 'no_tenant';
    const { rows } = await client.query<Row>(
      `SELECT ${COLUMNS} FROM api_keys WHERE id = $1 AND tenant_id = $2 FOR UPDATE`,
      [keyId, tenantId],
    );
    if (!rows[0]) return 'no_key';
    const r = toRecord(rows[0]);
    // A key in a rotation's grace period may still be revoked at once.
    const now = (await client.query<{ now: Date }>('SELECT now()')).rows[0]!.now;
    return r.revokedAt && r.revokedAt <= now ? 'revoked' : r;
  }

  private async setRevoked(client: PoolClient, keyId: string, graceS: number): Promise<ApiKeyRecord> {
    const { rows } = await client.query<Row>(
      `UPDATE api_keys SET revoked_at = now() + make_interval(secs => $2) WHERE id = $1 RETURNING ${COLUMNS}`,
      [keyId, graceS],
    );
    return toRecord(rows[0]!);
  }

  /** Revokes the key at once. */
  async revoke(tenantId: string, keyId: string, actor: string): Promise<ApiKeyRecord | KeyRefusal> {
    return withTransaction(this.pool, async (client) => {
      const found = await this.lockActive(client, tenantId, keyId);
      if (typeof found === 'string') return found;
      const revoked = await this.setRevoked(client, keyId, 0);
      await this.audit.record(
        {
          actor,
          action: 'api_key.revoke',
          tenantId,
          target: keyId,
          params: { prefix: revoked.prefix },
        },
        client,
      );
      return revoked;
    });
  }

  /** A new key replacing `keyId`, which stops working after `graceS` seconds (0: at once). */
  async rotate(
    tenantId: string,
    keyId: string,
    opts: { graceS: number; label?: string },
    actor: string,
  ): Promise<{ created: CreatedApiKey; old: ApiKeyRecord } | KeyRefusal> {
    return withTransaction(this.pool, async (client) => {
      const found = await this.lockActive(client, tenantId, keyId);
      if (typeof found === 'string') return found;
      const created = await this.insert(client, tenantId, opts.label ?? found.label);
      const old = await this.setRevoked(client, keyId, opts.graceS);
      await this.audit.record(
        {
          actor,
          action: 'api_key.rotate',
          tenantId,
          target: keyId,
          params: {
            grace_s: opts.graceS,
            new_key_id: created.id,
            new_prefix: created.prefix,
            old_prefix: old.prefix,
          },
        },
        client,
      );
      return { created, old };
    });
  }
}

import type { Pool, PoolClient } from 'pg';
import { withTransaction } from '../db/transaction';
import { AdminAuditRepo } from './admin-audit-repo';
import { LIMITS_SQL, toTenant, type LimitsRow, type TenantWithLimits } from './tenants-repo';

/** A tenant as operators see it. */
export interface TenantAdminView extends TenantWithLimits {
  createdAt: Date;
}

/** Fields an operator may change; absent ones stay as they are. */
export interface TenantChanges {
  name?: string;
  tier?: string;
  disabled?: boolean;
}

/** Why a create or update was not done. */
export type TenantRefusal = 'no_tenant' | 'no_tier' | 'exists';

const VIEW_SQL = LIMITS_SQL.replace('SELECT', 'SELECT t.created_at,');

/**
 * Creating, changing and listing tenants for the admin API. Each change writes its admin action log
 * entry in the same transaction.
 */
export class TenantAdminRepo {
  private readonly audit: AdminAuditRepo;
  constructor(private readonly pool: Pool) {
    this.audit = new AdminAuditRepo(pool);
  }

  private async view(client: PoolClient | Pool, id: string): Promise<TenantAdminView | undefined> {
    const { rows } = await client.query<LimitsRow & { created_at: Date }>(`${VIEW_SQL} WHERE t.id = $1`, [
      id,
    ]);
    return rows[0] && { ...toTenant(rows[0]), createdAt: rows[0].created_at };
  }

  private async tierExists(client: PoolClient, tier: string): Promise<boolean> {
    return Boolean((await client.query('SELECT 1 FROM tiers WHERE name = $1', [tier])).rowCount);
  }

  async get(id: string): Promise<TenantAdminView | undefined> {
    return this.view(this.pool, id);
  }

  /** Tenants by id, `limit` after the id `after`; one more is read to tell whether another page exists. */
  async list(opts: {
    after?: string;
    limit: number;
  }): Promise<{ data: TenantAdminView[]; hasMore: boolean }> {
    const { rows } = await this.pool.query<LimitsRow & { created_at: Date }>(
      `${VIEW_SQL} WHERE ($1::text IS NULL OR t.id > $1) ORDER BY t.id LIMIT $2`,
      [opts.after ?? null, opts.limit + 1],
    );
    return {
      hasMore: rows.length > opts.limit,
      data: rows.slice(0, opts.limit).map((r) => ({ ...toTenant(r), createdAt: r.created_at })),
    };
  }

  /** Creates a tenant (enabled); refused when the id is taken or the tier unknown. */
  async create(
    t: { id: string; name: string; tier: string },
    actor: string,
  ): Promise<TenantAdminView | TenantRefusal> {
    return withTransaction(this.pool, async (client) => {
      if (!(await this.tierExists(client, t.tier))) return 'no_tier';
      const ins = await client.query(
        'INSERT INTO tenants (id, name, tier) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING',
        [t.id, t.name, t.tier],
      );
      if (!ins.rowCount) return 'exists';
      await this.audit.record(
        {
          actor,
          action: 'tenant.create',
          tenantId: t.id,
          target: t.id,
          params: { name: t.name, tier: t.tier },
        },
        client,
      );
      return (await this.view(client, t.id))!;
    });
  }

  /** Applies the changes; the log entry holds each changed field's value before and after. */
  async update(
    id: string,
    changes: TenantChanges,
    actor: string,
    action = 'tenant.update',
  ): Promise<{ before: TenantAdminView; after: TenantAdminView } | TenantRefusal> {
    return withTransaction(this.pool, async (client) => {
      const locked = await client.query('SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE', [id]);
      if (!locked.rowCount) return 'no_tenant';
      if (changes.tier !== undefined && !(await this.tierExists(client, changes.tier))) return 'no_tier';
      const before = (await this.view(client, id))!;
      await client.query(
        `UPDATE tenants SET name = COALESCE($2, name), tier = COALESCE($3, tier),
           disabled = COALESCE($4, disabled) WHERE id = $1`,
        [id, changes.name ?? null, changes.tier ?? null, changes.disabled ?? null],
      );
      const after = (await this.view(client, id))!;
      const changed: Record<string, { from: unknown; to: unknown }> = {};
      for (const k of ['name', 'tier', 'disabled'] as const) {
        if (before[k] !== after[k]) changed[k] = { from: before[k], to: after[k] };
      }
      await this.audit.record({ actor, action, tenantId: id, target: id, params: changed }, client);
      return { before, after };
    });
  }
}

import type { Pool, PoolClient } from 'pg';

/** Who did what to which target; `params` never holds a secret (keys appear by id and prefix). */
export interface AdminAction {
  actor: string;
  action: string;
  tenantId?: string;
  target?: string;
  params?: Record<string, unknown>;
}

/** One row of the admin action log. */
export interface AdminActionRecord extends Required<Omit<AdminAction, 'tenantId' | 'target'>> {
  id: number;
  at: Date;
  tenantId: string | null;
  target: string | null;
}

/** Filters of {@link AdminAuditRepo.list}. */
export interface AuditListFilter {
  tenantId?: string;
  action?: string;
  /** Only entries older than this id (the cursor of the previous page). */
  beforeId?: number;
  limit: number;
}

interface Row {
  id: string;
  at: Date;
  actor: string;
  action: string;
  tenant_id: string | null;
  target: string | null;
  params: Record<string, unknown>;
}

/** The admin action log (table admin_actions). */
export class AdminAuditRepo {
  constructor(private readonly pool: Pool) {}

  /** Appends an entry; on `client`, it commits or rolls back with the action it describes. */
  async record(a: AdminAction, client: PoolClient | Pool = this.pool): Promise<void> {
    await client.query(
      'INSERT INTO admin_actions (actor, action, tenant_id, target, params) VALUES ($1, $2, $3, $4, $5)',
      [a.actor, a.action, a.tenantId ?? null, a.target ?? null, JSON.stringify(a.params ?? {})],
    );
  }

  /** Newest first; one more row than `limit` is read to tell whether another page exists. */
  async list(f: AuditListFilter): Promise<{ data: AdminActionRecord[]; hasMore: boolean }> {
    const where: string[] = [];
    const values: unknown[] = [];
    const add = (sql: string, v: unknown): void => {
      values.push(v);
      where.push(sql.replace('?', `$${values.length}`));
    };
    if (f.tenantId !== undefined) add('tenant_id = ?', f.tenantId);
    if (f.action !== undefined) add('action = ?', f.action);
    if (f.beforeId !== undefined) add('id < ?', f.beforeId);
    values.push(f.limit + 1);
    const { rows } = await this.pool.query<Row>(
      `SELECT * FROM admin_actions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY id DESC LIMIT $${values.length}`,
      values,
    );
    return {
      hasMore: rows.length > f.limit,
      data: rows.slice(0, f.limit).map((r) => ({
        id: Number(r.id),
        at: r.at,
        actor: r.actor,
        action: r.action,
        tenantId: r.tenant_id,
        target: r.target,
        params: r.params,
      })),
    };
  }
}

import type { Pool } from 'pg';

/** What usage can be grouped by; `day` is the UTC day of the ledger's window_at (acceptance). */
export const USAGE_GROUPS = ['tenant', 'day', 'model'] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

/** A usage query: ledger rows with `from <= window_at < to`. */
export interface UsageQuery {
  /** One tenant; undefined: every tenant (admin). */
  tenantId?: string;
  from: Date;
  to: Date;
  /** Columns to group by, in output order. */
  groupBy: readonly UsageGroup[];
}

/** One group's sums. Group columns absent from the query are absent here. */
export interface UsageRow {
  tenant?: string;
  day?: string;
  model?: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

const GROUP_SQL: Record<UsageGroup, string> = {
  tenant: 'tenant_id',
  day: `to_char(window_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
  model: 'model',
};

/** Sums of the usage ledger, the source of truth for what was charged. */
export class UsageRepo {
  constructor(private readonly pool: Pool) {}

  async query(q: UsageQuery): Promise<UsageRow[]> {
    const values: unknown[] = [q.from, q.to];
    const where = ['window_at >= $1', 'window_at < $2'];
    if (q.tenantId !== undefined) where.push(`tenant_id = $${values.push(q.tenantId)}`);
    const cols = q.groupBy.map((g) => `${GROUP_SQL[g]} AS ${g}`);
    const groupBy = q.groupBy.map((_, i) => String(i + 1)).join(', ');
    const { rows } = await this.pool.query<Record<string, string>>(
      `SELECT ${[...cols, ''].join(', ')} count(*) AS requests, sum(prompt_tokens) AS prompt_tokens,
         sum(completion_tokens) AS completion_tokens, sum(total_tokens) AS total_tokens
       FROM usage_ledger WHERE ${where.join(' AND ')}
       ${groupBy ? `GROUP BY ${groupBy} ORDER BY ${groupBy}` : ''}`,
      values,
    );
    return rows
      .filter((r) => Number(r.requests) > 0)
      .map((r) => ({
        ...Object.fromEntries(q.groupBy.map((g) => [g, r[g]])),
        requests: Number(r.requests),
        prompt_tokens: Number(r.prompt_tokens),
        completion_tokens: Number(r.completion_tokens),
        total_tokens: Number(r.total_tokens),
      }));
  }
}

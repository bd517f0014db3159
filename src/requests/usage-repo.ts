import type { Pool } from 'pg';
import { usageDays } from './usage-days';

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

/** Group columns of the union below (`usage_daily` rows and `usage_ledger` rows, one shape). */
const GROUP_SQL: Record<UsageGroup, string> = { tenant: 'tenant_id', day: 'day', model: 'model' };

/** Sums of the usage ledger, the source of truth for what was charged. */
export class UsageRepo {
  constructor(private readonly pool: Pool) {}

  /**
   * The range's whole UTC days come from `usage_daily` and only its partial days from the ledger
   * ({@link usageDays}): a year of a busy tenant's usage is a few thousand rollup rows, not billions
   * of ledger rows, whoever asks and however often.
   */
  async query(q: UsageQuery): Promise<UsageRow[]> {
    const d = usageDays(q.from, q.to);
    const values: unknown[] = [d.firstDay, d.endDay, q.from, d.head, d.tail, q.to];
    const tenant = q.tenantId === undefined ? '' : `AND tenant_id = $${values.push(q.tenantId)}`;
    const cols = q.groupBy.map((g) => `${GROUP_SQL[g]} AS ${g}`);
    const groupBy = q.groupBy.map((_, i) => String(i + 1)).join(', ');
    const { rows } = await this.pool.query<Record<string, string>>(
      `SELECT ${[...cols, ''].join(', ')} sum(requests) AS requests, sum(prompt_tokens) AS prompt_tokens,
         sum(completion_tokens) AS completion_tokens, sum(total_tokens) AS total_tokens
       FROM (
         SELECT tenant_id, to_char(day, 'YYYY-MM-DD') AS day, model, requests, prompt_tokens,
                completion_tokens, total_tokens
         FROM usage_daily WHERE day >= $1::date AND day < $2::date ${tenant}
         UNION ALL
         SELECT tenant_id, to_char(window_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), model, 1, prompt_tokens,
                completion_tokens, total_tokens
         FROM usage_ledger
         WHERE ((window_at >= $3 AND window_at < $4) OR (window_at >= $5 AND window_at < $6)) ${tenant}
       ) u
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

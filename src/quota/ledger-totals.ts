import type { Pool, PoolClient } from 'pg';
import { usageDays } from '../requests/usage-days';

/** Requests and tokens the ledger holds for a tenant in a range of acceptance times. */
export interface LedgerTotals {
  requests: number;
  tokens: number;
}

/**
 * Sums the tenant's ledger rows with `from <= window_at < to`, in one statement: the whole UTC days
 * of the range from `usage_daily` and only the partial days at its ends from `usage_ledger`
 * ({@link usageDays}). A month costs at most 31 x 8 rollup rows per model plus the ledger rows of two
 * partial days, not every row of the month. Within one snapshot the answer equals summing the ledger.
 */
export async function ledgerTotals(
  q: Pool | PoolClient,
  tenantId: string,
  from: Date,
  to: Date,
): Promise<LedgerTotals> {
  const d = usageDays(from, to);
  const { rows } = await q.query<{ requests: string; tokens: string }>(
    `SELECT d.requests + l.requests AS requests, d.tokens + l.tokens AS tokens
     FROM (SELECT COALESCE(sum(requests), 0) AS requests, COALESCE(sum(total_tokens), 0) AS tokens
           FROM usage_daily WHERE tenant_id = $1 AND day >= $2::date AND day < $3::date) d,
          (SELECT count(*) AS requests, COALESCE(sum(total_tokens), 0) AS tokens
           FROM usage_ledger
           WHERE tenant_id = $1
             AND ((window_at >= $4 AND window_at < $5) OR (window_at >= $6 AND window_at < $7))) l`,
    [tenantId, d.firstDay, d.endDay, from, d.head, d.tail, to],
  );
  return { requests: Number(rows[0]?.requests ?? 0), tokens: Number(rows[0]?.tokens ?? 0) };
}

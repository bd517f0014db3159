import type { Pool, PoolClient } from 'pg';

/** Requests and tokens the ledger holds for a tenant in a range of acceptance times. */
export interface LedgerTotals {
  requests: number;
  tokens: number;
}

const DAY_MS = 86_400_000;
const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/**
 * Sums the tenant's ledger rows with `from <= window_at < to`, in one statement: the whole UTC days
 * of the range from `usage_daily` (the ledger's daily sums, kept by a trigger in the transaction that
 * writes each ledger row, migration 007) and only the partial days at its ends from `usage_ledger`.
 * A month costs at most 31 x 8 rollup rows plus the ledger rows of two partial days, not every row of
 * the month. Within one snapshot the answer equals summing the ledger itself.
 */
export async function ledgerTotals(
  q: Pool | PoolClient,
  tenantId: string,
  from: Date,
  to: Date,
): Promise<LedgerTotals> {
  const firstWhole = Math.ceil(from.getTime() / DAY_MS) * DAY_MS;
  const endWhole = Math.floor(to.getTime() / DAY_MS) * DAY_MS;
  // [from, head) and [tail, to) from the ledger, whole days [head, tail) from the rollup.
  const [head, tail] = firstWhole < endWhole ? [firstWhole, endWhole] : [to.getTime(), to.getTime()];
  const { rows } = await q.query<{ requests: string; tokens: string }>(
    `SELECT d.requests + l.requests AS requests, d.tokens + l.tokens AS tokens
     FROM (SELECT COALESCE(sum(requests), 0) AS requests, COALESCE(sum(tokens), 0) AS tokens
           FROM usage_daily WHERE tenant_id = $1 AND day >= $2::date AND day < $3::date) d,
          (SELECT count(*) AS requests, COALESCE(sum(total_tokens), 0) AS tokens
           FROM usage_ledger
           WHERE tenant_id = $1
             AND ((window_at >= $4 AND window_at < $5) OR (window_at >= $6 AND window_at < $7))) l`,
    [tenantId, utcDay(head), utcDay(tail), from, new Date(head), new Date(tail), to],
  );
  return { requests: Number(rows[0]?.requests ?? 0), tokens: Number(rows[0]?.tokens ?? 0) };
}

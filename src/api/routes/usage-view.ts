import type { Request, Response } from 'express';
import type { UsageGroup, UsageRow } from '../../requests/usage-repo';
import { toCsv } from '../csv';

const SUMS = ['requests', 'prompt_tokens', 'completion_tokens', 'total_tokens'] as const;

/**
 * Sends usage as JSON (groups and their total) or, for `Accept: text/csv`, as CSV with one line per
 * group. Both are exact ledger sums.
 */
export function sendUsage(
  req: Request,
  res: Response,
  q: { from: Date; to: Date; groupBy: readonly UsageGroup[] },
  rows: UsageRow[],
): void {
  res.vary('Accept');
  if (req.accepts(['application/json', 'text/csv']) === 'text/csv') {
    res
      .type('text/csv; charset=utf-8')
      .send(toCsv([...q.groupBy, ...SUMS], rows as unknown as Record<string, string | number>[]));
    return;
  }
  const total = Object.fromEntries(SUMS.map((k) => [k, rows.reduce((n, r) => n + r[k], 0)]));
  res.json({
    object: 'usage',
    from: q.from.toISOString(),
    to: q.to.toISOString(),
    group_by: q.groupBy,
    data: rows,
    total,
  });
}

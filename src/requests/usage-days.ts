const DAY_MS = 86_400_000;
const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/**
 * How a range of acceptance times `[from, to)` is read: its whole UTC days `[firstDay, endDay)` from
 * `usage_daily` (the ledger's daily sums, kept by a trigger in the transaction that writes each
 * ledger row, migration 007) and its partial days `[from, head)` and `[tail, to)` from
 * `usage_ledger` itself. With no whole day in the range, the days are empty and `[from, head)` is the
 * whole range.
 */
export interface UsageDays {
  firstDay: string;
  endDay: string;
  head: Date;
  tail: Date;
}

export function usageDays(from: Date, to: Date): UsageDays {
  const firstWhole = Math.ceil(from.getTime() / DAY_MS) * DAY_MS;
  const endWhole = Math.floor(to.getTime() / DAY_MS) * DAY_MS;
  const [head, tail] = firstWhole < endWhole ? [firstWhole, endWhole] : [to.getTime(), to.getTime()];
  return { firstDay: utcDay(head), endDay: utcDay(tail), head: new Date(head), tail: new Date(tail) };
}

/** Quota windows are fixed UTC buckets anchored at the time a request was accepted. */
export type WindowKind = 'minute' | 'day' | 'month';

export interface WindowBucket {
  kind: WindowKind;
  /** Bucket id, e.g. `m202611221103`, `d20261122`, `M202611`. */
  id: string;
  /** When the bucket's counters stop applying (start of the next bucket). */
  resetsAt: Date;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** The minute, day and month buckets containing `at` (UTC). */
export function bucketsFor(at: Date): Record<WindowKind, WindowBucket> {
  const y = at.getUTCFullYear();
  const mo = at.getUTCMonth();
  const d = at.getUTCDate();
  const h = at.getUTCHours();
  const mi = at.getUTCMinutes();
  const ymd = `${y}${pad(mo + 1)}${pad(d)}`;
  return {
    minute: {
      kind: 'minute',
      id: `m${ymd}${pad(h)}${pad(mi)}`,
      resetsAt: new Date(Date.UTC(y, mo, d, h, mi + 1)),
    },
    day: { kind: 'day', id: `d${ymd}`, resetsAt: new Date(Date.UTC(y, mo, d + 1)) },
    month: { kind: 'month', id: `M${y}${pad(mo + 1)}`, resetsAt: new Date(Date.UTC(y, mo + 1, 1)) },
  };
}

/** Start of the bucket (inclusive) for SQL range queries over the ledger. */
export function bucketStart(b: WindowBucket): Date {
  const end = b.resetsAt;
  switch (b.kind) {
    case 'minute':
      return new Date(end.getTime() - 60_000);
    case 'day':
      return new Date(end.getTime() - 86_400_000);
    case 'month':
      return new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth() - 1, 1));
  }
}

/** How long Redis keeps a bucket's counters after it starts: long enough for late commits and audits. */
export const BUCKET_TTL_S: Record<WindowKind, number> = {
  minute: 3 * 3600,
  day: 3 * 86400,
  month: 65 * 86400,
};

/** Load drivers and percentiles for the benchmark. */

export interface LoadResult {
  /** Latency of each successful call, ms. */
  latencies: number[];
  completed: number;
  errors: number;
  /** Errors counted by message (first line), so a run says why calls failed. */
  errorReasons: Record<string, number>;
  elapsedMs: number;
}

/** Counts `err` in `reasons` by its message (first line). */
const tally = (reasons: Record<string, number>, err: unknown): void => {
  const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 120);
  reasons[reason] = (reasons[reason] ?? 0) + 1;
};

/** Several runs of one phase as one: calls, errors and latencies together, time summed. */
export function mergeLoads(runs: readonly LoadResult[]): LoadResult {
  const errorReasons: Record<string, number> = {};
  for (const r of runs)
    for (const [k, v] of Object.entries(r.errorReasons)) errorReasons[k] = (errorReasons[k] ?? 0) + v;
  return {
    latencies: runs.flatMap((r) => r.latencies),
    completed: runs.reduce((n, r) => n + r.completed, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    errorReasons,
    elapsedMs: runs.reduce((n, r) => n + r.elapsedMs, 0),
  };
}

/** `concurrency` clients calling `fn` back to back for `durationMs` (or `total` calls). */
export async function closedLoop(
  concurrency: number,
  opts: { durationMs?: number; total?: number },
  fn: (i: number) => Promise<void>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  const errorReasons: Record<string, number> = {};
  let errors = 0;
  let next = 0;
  const t0 = performance.now();
  const more = (): boolean =>
    (opts.total === undefined || next < opts.total) &&
    (opts.durationMs === undefined || performance.now() - t0 < opts.durationMs);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (more()) {
        const i = next++;
        const t = performance.now();
        try {
          await fn(i);
          latencies.push(performance.now() - t);
        } catch (err) {
          errors++;
          tally(errorReasons, err);
        }
      }
    }),
  );
  return { latencies, completed: latencies.length, errors, errorReasons, elapsedMs: performance.now() - t0 };
}

/**
 * Open loop: starts one call every 1/rate s for `durationMs`, whether earlier calls returned or not,
 * so a slow server shows as latency and errors instead of a lower offered rate (a closed loop hides
 * queueing: its clients wait instead of arriving). Latency is measured from the scheduled start.
 */
export async function openLoop(
  ratePerS: number,
  durationMs: number,
  fn: (i: number) => Promise<void>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  const errorReasons: Record<string, number> = {};
  let errors = 0;
  const calls: Promise<void>[] = [];
  const t0 = performance.now();
  const n = Math.round((ratePerS * durationMs) / 1000);
  for (let i = 0; i < n; i++) {
    const at = t0 + (i * 1000) / ratePerS;
    const wait = at - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    calls.push(
      fn(i).then(
        () => void latencies.push(performance.now() - at),
        (err: unknown) => {
          errors++;
          tally(errorReasons, err);
        },
      ),
    );
  }
  await Promise.all(calls);
  return { latencies, completed: latencies.length, errors, errorReasons, elapsedMs: performance.now() - t0 };
}

/** The p-th percentile (0-100) of `xs`, NaN when empty. */
export function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

/** A dependency a process needs to serve: named, with a check that rejects while it is down. */
export interface ReadinessCheck {
  /** `postgres`, `redis` or `temporal`: the `dependency` label of `dependency_up`. */
  name: string;
  check: () => Promise<unknown>;
}

/**
 * One check's outcome as /readyz shows it: up or down, never why. /readyz is unauthenticated (the
 * API's is on the public port): a driver's error names internal hosts, ports and versions. Why goes
 * to the log, once per outage (DependencyMonitor, which every process's checks run through), and
 * to `dependency_up`.
 */
export interface CheckResult {
  status: 'ok' | 'down';
}

/** The body of /readyz. */
export interface Readiness {
  status: 'ready' | 'not_ready';
  checks: Record<string, CheckResult>;
}

/** Message of anything thrown, for logs. */
export const errorMessage = (err: unknown): string =>
  err instanceof Error ? err.message || err.name : typeof err === 'string' ? err : 'unknown error';

/** Rejects after `ms`, so a check against a hung dependency cannot hang /readyz. */
export async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every check at once, each bounded by `timeoutMs`; ready when all pass. */
export async function readiness(checks: ReadinessCheck[], timeoutMs = 2000): Promise<Readiness> {
  const results = await Promise.all(
    checks.map(async (c): Promise<[string, CheckResult]> => {
      try {
        await withTimeout(c.check(), timeoutMs);
        return [c.name, { status: 'ok' }];
      } catch {
        // The error itself reached the DependencyMonitor's log line (see CheckResult).
        return [c.name, { status: 'down' }];
      }
    }),
  );
  const ready = results.every(([, r]) => r.status === 'ok');
  return { status: ready ? 'ready' : 'not_ready', checks: Object.fromEntries(results) };
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Waits until `performance.now()` reaches `due`. Waits under a millisecond are skipped, so
 * sub-millisecond per-token costs add up instead of each rounding up to a 1 ms timer.
 */
export async function sleepUntil(due: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  const wait = due - performance.now();
  if (wait >= 1) await sleep(wait, signal);
}

/** Never resolves; rejects with the signal's reason when it aborts (a hung request). */
export function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}

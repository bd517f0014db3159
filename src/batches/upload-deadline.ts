import { AppError } from '../errors/app-error';
import { ErrorType } from '../shared/error-types';

/** Options of {@link withUploadDeadline}. */
export interface UploadDeadlineOptions {
  /** Longest time to read the whole body, ms (BATCH_UPLOAD_TIMEOUT_S). */
  totalMs: number;
  /** Longest wait for the next bytes of the body, ms (BATCH_UPLOAD_IDLE_TIMEOUT_S). */
  idleMs: number;
}

/**
 * The body's chunks, as they arrive, or a 408 once the body has taken longer than `totalMs` in all
 * or `idleMs` since its last bytes. An upload holds a slot of the UploadGate and, once its first
 * items are stored, an open PostgreSQL transaction: a client that trickles its body (a few bytes now
 * and then) would otherwise hold both for as long as the socket stays open.
 */
export async function* withUploadDeadline(
  body: AsyncIterable<Buffer>,
  opts: UploadDeadlineOptions,
  now: () => number = Date.now,
): AsyncGenerator<Buffer> {
  const started = now();
  const it = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      const left = started + opts.totalMs - now();
      const waitMs = Math.min(opts.idleMs, left);
      const idle = waitMs === opts.idleMs && left > opts.idleMs;
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((resolve) => {
        timer = setTimeout(() => resolve('expired'), Math.max(0, waitMs));
      });
      const next = await Promise.race([it.next(), expired]).finally(() => clearTimeout(timer));
      if (next === 'expired')
        throw new AppError(
          ErrorType.RequestTimeout,
          idle
            ? `no bytes of the batch body for ${Math.round(opts.idleMs / 1000)} s; send the body without pauses`
            : `the batch body was not read within ${Math.round(opts.totalMs / 1000)} s; send it faster or split the batch`,
          { param: 'body' },
        );
      if (next.done) return;
      yield next.value;
    }
  } finally {
    // Stops the source (the request stream) without destroying the socket: the error answer goes out.
    void it.return?.();
  }
}

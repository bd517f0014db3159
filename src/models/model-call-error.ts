import { ErrorType } from '../shared/error-types';

/** Options for {@link ModelCallError}. */
export interface ModelCallErrorOptions {
  /** HTTP status the model service answered, if any. */
  status?: number;
  /** Delay the service asked for (Retry-After), in milliseconds. */
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * A failed call to a model service, classified once: `retryable` decides whether Temporal retries it,
 * `retryAfterMs` becomes the activity's `nextRetryDelay`.
 */
export class ModelCallError extends Error {
  override readonly name = 'ModelCallError';
  readonly status?: number;
  readonly retryAfterMs?: number;

  constructor(
    readonly type: ErrorType,
    message: string,
    readonly retryable: boolean,
    opts: ModelCallErrorOptions = {},
  ) {
    super(message, { cause: opts.cause });
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** Parses Retry-After (seconds or HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Classifies an HTTP error answer of a model service. */
export function errorFromStatus(status: number, message: string, retryAfter: string | null): ModelCallError {
  const retryAfterMs = parseRetryAfter(retryAfter);
  if (status === 429 || status === 503) {
    return new ModelCallError(ErrorType.ModelOverloaded, message, true, { status, retryAfterMs });
  }
  if (status === 408) return new ModelCallError(ErrorType.ModelTimeout, message, true, { status });
  if (status >= 500)
    return new ModelCallError(ErrorType.ModelUnavailable, message, true, { status, retryAfterMs });
  // 400, 404 (unknown model), 413, 422 (validation, context length): retrying cannot help.
  return new ModelCallError(ErrorType.ModelInvalidRequest, message, false, { status });
}

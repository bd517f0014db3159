import { ErrorType } from '../shared/error-types';

/** Options for {@link AppError}. */
export interface AppErrorOptions {
  /** The request field at fault, e.g. `messages[0].content`. */
  param?: string;
  /** Seconds the client should wait before retrying (sent as Retry-After). */
  retryAfterS?: number;
  /** Extra response headers (e.g. X-RateLimit-*). */
  headers?: Record<string, string>;
  cause?: unknown;
}

/** An error with a stable type that the API maps to HTTP once (HTTP_STATUS below, src/api/error-middleware.ts). */
export class AppError extends Error {
  override readonly name = 'AppError';
  readonly param?: string;
  readonly retryAfterS?: number;
  readonly headers?: Record<string, string>;

  constructor(
    readonly type: ErrorType,
    message: string,
    opts: AppErrorOptions = {},
  ) {
    super(message, { cause: opts.cause });
    this.param = opts.param;
    this.retryAfterS = opts.retryAfterS;
    this.headers = opts.headers;
  }
}

/** HTTP status of each error type. */
export const HTTP_STATUS: Record<ErrorType, number> = {
  [ErrorType.InvalidRequest]: 400,
  [ErrorType.RequestTooLarge]: 413,
  [ErrorType.RequestTimeout]: 408,
  [ErrorType.Authentication]: 401,
  [ErrorType.PermissionDenied]: 403,
  [ErrorType.NotFound]: 404,
  [ErrorType.Conflict]: 409,
  [ErrorType.IdempotencyKeyReused]: 422,
  [ErrorType.RateLimited]: 429,
  [ErrorType.QuotaExceeded]: 429,
  [ErrorType.ModelInvalidRequest]: 400,
  [ErrorType.ModelOverloaded]: 503,
  [ErrorType.ModelUnavailable]: 502,
  [ErrorType.ModelTimeout]: 504,
  [ErrorType.ModelBadResponse]: 502,
  [ErrorType.Unavailable]: 503,
  [ErrorType.Cancelled]: 409,
  [ErrorType.Internal]: 500,
};

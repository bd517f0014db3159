/**
 * Every error type the system produces, as a const object (not a TS enum) so workflows, activities
 * and the API share one vocabulary. The value is the `type` in API error bodies and the
 * `ApplicationFailure.type` in Temporal.
 */
export const ErrorType = {
  InvalidRequest: 'invalid_request_error',
  /** The request body is over API_MAX_BODY_BYTES (413). */
  RequestTooLarge: 'request_too_large',
  /** A request body sent too slowly (batch uploads: BATCH_UPLOAD_TIMEOUT_S / _IDLE_TIMEOUT_S) (408). */
  RequestTimeout: 'request_timeout',
  Authentication: 'authentication_error',
  PermissionDenied: 'permission_error',
  NotFound: 'not_found_error',
  Conflict: 'conflict_error',
  /** An Idempotency-Key reused with a different body (422). */
  IdempotencyKeyReused: 'idempotency_key_reused',
  RateLimited: 'rate_limit_error',
  QuotaExceeded: 'quota_exceeded',
  ModelInvalidRequest: 'model_invalid_request',
  ModelOverloaded: 'model_overloaded',
  ModelUnavailable: 'model_unavailable',
  ModelTimeout: 'model_timeout',
  ModelBadResponse: 'model_bad_response',
  Unavailable: 'service_unavailable',
  Cancelled: 'cancelled',
  Internal: 'internal_error',
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

/**
 * Failures that retrying cannot fix: activities throw these as non-retryable ApplicationFailures, and
 * the model call's retry policy lists them as non-retryable too.
 */
export const NON_RETRYABLE_ERROR_TYPES: readonly ErrorType[] = [
  ErrorType.InvalidRequest,
  ErrorType.RequestTooLarge,
  ErrorType.ModelInvalidRequest,
  ErrorType.QuotaExceeded,
  ErrorType.NotFound,
  ErrorType.PermissionDenied,
];

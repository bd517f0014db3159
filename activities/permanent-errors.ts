import { ApplicationFailure } from '@temporalio/activity';
import { UnknownTenantError } from '../src/quota/quota-store';
import { ErrorType } from '../src/shared/error-types';

/**
 * PostgreSQL error classes that retrying cannot heal: data exceptions (22), integrity constraint
 * violations (23: e.g. a request for a tenant that does not exist), syntax or access errors (42).
 * Connection loss (08), shutdown (57) and the like stay retryable: those stores come back.
 */
const PERMANENT_SQLSTATE_CLASSES = ['22', '23', '42'];

/** True for errors a retry cannot fix. */
export function isPermanent(err: unknown): boolean {
  if (err instanceof UnknownTenantError) return true;
  const code = (err as { code?: unknown })?.code;
  return (
    typeof code === 'string' && code.length === 5 && PERMANENT_SQLSTATE_CLASSES.includes(code.slice(0, 2))
  );
}

/**
 * Runs `fn`; a permanent error becomes a non-retryable ApplicationFailure (type
 * `invalid_request_error`), so a local activity does not retry it forever. Other errors are
 * rethrown as they are and retried until the store comes back.
 */
export async function permanentAsNonRetryable<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!isPermanent(err)) throw err;
    throw ApplicationFailure.create({
      type: ErrorType.InvalidRequest,
      message: (err as Error).message,
      nonRetryable: true,
      cause: err instanceof Error ? err : undefined,
    });
  }
}

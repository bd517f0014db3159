import type { Request } from 'express';
import { AppError } from '../errors/app-error';
import { ErrorType } from '../shared/error-types';

/** Longest Idempotency-Key accepted, characters. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/**
 * The request's `Idempotency-Key` (an sf-string per the IETF draft; the surrounding quotes are
 * optional here), or undefined when absent. A malformed key is a 400 naming the header.
 */
export function idempotencyKeyOf(req: Request): string | undefined {
  const raw = req.header('idempotency-key');
  if (raw === undefined) return undefined;
  const key = raw.trim().replace(/^"(.*)"$/, '$1');
  if (!key || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
    throw new AppError(
      ErrorType.InvalidRequest,
      `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters`,
      { param: 'Idempotency-Key' },
    );
  }
  return key;
}

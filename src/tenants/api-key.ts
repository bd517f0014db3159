import { createHash, randomBytes } from 'node:crypto';

/** SHA-256 of an API key. Keys are high-entropy secrets, so a fast digest is the right hash (as GitHub does). */
export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Start of every key this system issues; `live` leaves room for a later `test` kind. */
export const API_KEY_PREFIX = 'sk-live-';

/**
 * Characters of a key kept in clear as its visible prefix: `sk-live-` and 4 random characters
 * (24 bits: enough to tell a tenant's keys apart, far too few to help guess the other 256).
 */
export const VISIBLE_PREFIX_CHARS = API_KEY_PREFIX.length + 4;

/** A new random API key: `sk-live-` + 32 random bytes in base64url. */
export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** The non-secret start of a key, stored beside its hash and shown in lists. */
export function visiblePrefix(key: string): string {
  return key.slice(0, VISIBLE_PREFIX_CHARS);
}

import { createHash, randomBytes } from 'node:crypto';

/** SHA-256 of an API key. Keys are high-entropy secrets, so a fast digest is the right hash (as GitHub does). */
export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** A new random API key: `sk-` + 32 random bytes in base64url. */
export function generateApiKey(): string {
  return `sk-${randomBytes(32).toString('base64url')}`;
}

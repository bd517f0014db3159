/**
 * The keys that encrypt Temporal payloads, as PAYLOAD_KEYS spells them: `kid1:<base64>,kid2:<base64>`.
 * Pure parsing, shared by the config schema (which reports problems) and the tests.
 */

/** AES-256 needs 32 bytes of key: `openssl rand -base64 32`. */
export const PAYLOAD_KEY_BYTES = 32;

/** Key ids travel in every encrypted payload's metadata: short, printable, no separators. */
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** One encryption key and the id that names it in payload metadata. */
export interface PayloadKey {
  id: string;
  key: Buffer;
}

/** The keys of a PAYLOAD_KEYS value, or the problems that make it unusable (never the key bytes). */
export function parsePayloadKeys(value: string): { keys: PayloadKey[]; problems: string[] } {
  const keys: PayloadKey[] = [];
  const problems: string[] = [];
  for (const [i, raw] of value.split(',').entries()) {
    const entry = raw.trim();
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    const b64 = entry.slice(colon + 1);
    if (!KEY_ID.test(id)) {
      problems.push(
        `entry ${i + 1} must be <key id>:<base64 key>, the id 1-64 of A-Z a-z 0-9 . _ - (e.g. k1:$(openssl rand -base64 32))`,
      );
      continue;
    }
    const key = BASE64.test(b64) ? Buffer.from(b64, 'base64') : Buffer.alloc(0);
    if (key.length !== PAYLOAD_KEY_BYTES) {
      problems.push(
        `key ${id} must be ${PAYLOAD_KEY_BYTES} bytes in base64 (openssl rand -base64 32); it is ${BASE64.test(b64) ? `${key.length} bytes` : 'not base64'}`,
      );
      continue;
    }
    if (keys.some((k) => k.id === id)) problems.push(`key id ${id} appears more than once`);
    else keys.push({ id, key });
  }
  return { keys, problems };
}

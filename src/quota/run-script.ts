import { createHash } from 'node:crypto';
import type { QuotaRedis } from './redis-client';

const shas = new Map<string, string>();
const shaOf = (src: string): string => {
  let sha = shas.get(src);
  if (!sha) {
    sha = createHash('sha1').update(src).digest('hex');
    shas.set(src, sha);
  }
  return sha;
};

/**
 * Runs a Lua script by its SHA1 (EVALSHA: the script text is not sent on every call), loading it
 * with EVAL the first time a server does not know it (NOSCRIPT: after a Redis restart, or on a
 * cluster node that never ran it). Same result and atomicity as EVAL.
 */
export async function runScript(
  redis: QuotaRedis,
  src: string,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  try {
    return await redis.evalsha(shaOf(src), keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return redis.eval(src, keys.length, ...keys, ...args);
  }
}

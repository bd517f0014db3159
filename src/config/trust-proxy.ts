import { isIP } from 'node:net';

/** The names express's `trust proxy` accepts for address ranges. */
const RANGES = ['loopback', 'linklocal', 'uniquelocal'];

/** One `trust proxy` entry: a range name, an address, or address/prefix; else why not. */
function entryProblem(entry: string): string | undefined {
  if (RANGES.includes(entry)) return undefined;
  const [addr, prefix, extra] = entry.split('/');
  const family = isIP(addr ?? '');
  if (!family || extra !== undefined)
    return `'${entry}' is not an address, address/prefix or ${RANGES.join('/')}`;
  if (prefix === undefined) return undefined;
  const bits = family === 4 ? 32 : 128;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= bits
    ? undefined
    : `'${entry}': prefix must be 0-${bits}`;
}

/**
 * API_TRUST_PROXY as express's `trust proxy` value: `false`/empty (the peer address is the
 * client), `true` (the left-most X-Forwarded-For address, whoever sent it), a number of proxy hops,
 * or a comma-separated list of proxy addresses, ranges or names; a string says what is wrong.
 */
export function parseTrustProxy(raw: string): boolean | number | string[] | { problem: string } {
  const s = raw.trim();
  if (s === '' || s === 'false') return false;
  if (s === 'true') return true;
  if (/^\d{1,3}$/.test(s)) return Number(s);
  const entries = s.split(',').map((e) => e.trim());
  for (const e of entries) {
    const problem = entryProblem(e);
    if (problem) return { problem };
  }
  return entries;
}

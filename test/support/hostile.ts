import { connect } from 'node:net';
import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import { ErrorType } from '../../src/shared/error-types';
import { HTTP_STATUS } from '../../src/errors/app-error';

/** Strings that have broken parsers, databases, shells, loggers and header writers before. */
export const HOSTILE_STRINGS: readonly string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800', // lone high surrogate
  '\udfff', // lone low surrogate
  'x\ud83dy', // half an emoji
  '\u202eevil\u202c', // RTL override
  '\u200f\u200e\u061c', // RTL/LTR marks
  'e\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301', // combining marks
  'Z̷̡̛̟̩̖̹̖̪̫a̸̧̛͔̟̗̤̦̖̫l̶̢̛̗̜̩̟̬̲g̴̨̛̘̺̲̟̥̺o̷̢̧̧̮̝̳̼̥',
  '👩‍👩‍👧‍👦🏳️‍🌈🇺🇳',
  '\ufeff\ufffe\uffff',
  "' OR '1'='1",
  "'; DROP TABLE requests; --",
  '1; SELECT pg_sleep(30)--',
  '" OR 1=1 --',
  '{"$gt": ""}',
  '{"$where": "sleep(30000)"}',
  '$(reboot)',
  '`id`; rm -rf / #',
  '| cat /etc/passwd',
  '../../../../etc/passwd',
  '..%2f..%2f..%2fetc%2fpasswd',
  '..\\..\\windows\\win.ini',
  '%00',
  '%0d%0aSet-Cookie:%20pwned=1',
  'a\r\nSet-Cookie: pwned=1',
  'a\nX-Injected: 1',
  '__proto__',
  'constructor',
  'prototype',
  '{"__proto__":{"polluted":true}}',
  '<script>alert(1)</script>',
  '${jndi:ldap://127.0.0.1/a}',
  '{{7*7}}',
  '%s%s%s%n',
  '-1',
  '0',
  '1e309',
  'NaN',
  'null',
  'true',
  '[]',
  '{}',
  'x'.repeat(10_000), // long unbroken string
];

/** Long strings kept apart: sent in fewer places so the run stays short. */
export const HUGE_STRING = 'A'.repeat(2 * 1024 * 1024);

/** Values of the wrong JSON type for any field. */
export const WRONG_TYPES: readonly unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  1e308,
  -0,
  [],
  ['x'],
  {},
  { $gt: '' },
  'string',
];

/** `[[[[…]]]]` and `{"a":{"a":…}}` nested `depth` levels. */
export function deeplyNested(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array'
    ? '['.repeat(depth) + ']'.repeat(depth)
    : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** A response as the fuzz sees it. */
export interface Answer {
  status: number;
  headers: Headers | Record<string, string>;
  text: string;
  ms: number;
}

/** One HTTP call that must answer within `timeoutMs` (a hang fails the test, naming the call). */
export async function send(
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: string | Buffer },
  timeoutMs = 15_000,
): Promise<Answer> {
  const t0 = performance.now();
  const res = await fetch(url, {
    method: init.method,
    headers: init.headers,
    body: init.body,
    signal: AbortSignal.timeout(timeoutMs),
  }).catch((err: unknown) => {
    throw new Error(`${init.method} ${url}: no answer (${(err as Error).message})`);
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, ms: performance.now() - t0 };
}

/**
 * A request written byte for byte on a socket (what fetch refuses to send: CR/LF or NUL in a header,
 * a lying Content-Length). Resolves with the status line's code and the rest of the answer.
 */
export function sendRaw(base: string, raw: string | Buffer, timeoutMs = 15_000): Promise<Answer> {
  const { hostname, port } = new URL(base);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const sock = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`raw request: no answer in ${timeoutMs} ms: ${String(raw).slice(0, 80)}`));
    }, timeoutMs);
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      // One answer is enough: the connection may be kept alive.
      const s = Buffer.concat(chunks).toString('latin1');
      const head = s.indexOf('\r\n\r\n');
      if (head < 0) return;
      const len = /\r\ncontent-length:\s*(\d+)/i.exec(s.slice(0, head));
      if (len && s.length - head - 4 >= Number(len[1])) sock.end();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      const s = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(s)?.[1] ?? 0);
      const head = s.indexOf('\r\n\r\n');
      const headers: Record<string, string> = {};
      for (const line of s.slice(0, head).split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status, headers, text: head >= 0 ? s.slice(head + 4) : '', ms: performance.now() - t0 });
    });
    sock.write(raw);
  });
}

const KNOWN_TYPES = new Set<string>(Object.values(ErrorType));

/**
 * The problem with an error answer, or undefined when it is a 4xx in the one documented shape
 * `{ "error": { "type", "message", "param"? } }` with the status its type maps to.
 */
export function errorShapeProblem(a: Answer): string | undefined {
  if (a.status < 400 || a.status >= 500) return `status ${a.status} is not a 4xx`;
  let body: { error?: { type?: unknown; message?: unknown; param?: unknown } };
  try {
    body = JSON.parse(a.text) as typeof body;
  } catch {
    return `body is not JSON: ${a.text.slice(0, 120)}`;
  }
  const e = body?.error;
  if (!e || typeof e !== 'object') return `no "error" object: ${a.text.slice(0, 120)}`;
  const keys = Object.keys(e).filter((k) => !['type', 'message', 'param'].includes(k));
  if (keys.length) return `unexpected error fields ${keys.join(', ')}`;
  if (typeof e.type !== 'string' || !KNOWN_TYPES.has(e.type)) return `unknown error type ${String(e.type)}`;
  if (typeof e.message !== 'string' || !e.message) return 'error.message missing';
  if (e.param !== undefined && (typeof e.param !== 'string' || !e.param)) return 'error.param not a string';
  if (HTTP_STATUS[e.type as ErrorType] !== a.status)
    return `status ${a.status} does not match type ${e.type} (${HTTP_STATUS[e.type as ErrorType]})`;
  if (/\bat [\w.<>]+ \(|node_modules|\/src\/|syntax error at|violates .* constraint/i.test(e.message))
    return `internals in the message: ${e.message.slice(0, 200)}`;
  return undefined;
}

/** Row counts of the tables a request could write, and every Redis key of the given tenants. */
export async function snapshotState(
  pool: Pool,
  redis: Redis,
  prefix: string,
  tenants: readonly string[],
): Promise<Record<string, unknown>> {
  const tables = [
    'requests',
    'usage_ledger',
    'tenants',
    'tenant_limits',
    'api_keys',
    'idempotency_keys',
    'webhook_endpoints',
    'webhook_request_secrets',
    'request_webhooks',
    'admin_actions',
    'batches',
    'batch_items',
    'responses',
  ];
  const out: Record<string, unknown> = {};
  for (const t of tables) {
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`);
    out[`pg:${t}`] = rows[0]!.n;
  }
  for (const tenant of tenants) {
    const keys = (await redis.keys(`${prefix}:{t:${tenant}}*`)).sort();
    for (const k of keys) {
      const type = await redis.type(k);
      // A read (GET /v1/quota) creates the current windows with zero counters: nothing was counted.
      if (type === 'hash' && /:w:[^:]+$/.test(k)) {
        const h = await redis.hgetall(k);
        if (Object.values(h).every((v) => v === '0')) continue;
      }
      out[`redis:${k}`] =
        type === 'hash'
          ? await redis.hgetall(k)
          : type === 'zset'
            ? await redis.zrange(k, 0, -1, 'WITHSCORES')
            : type === 'string'
              ? await redis.get(k)
              : type;
    }
  }
  return out;
}

/** p-th percentile (0–100) of `xs`. */
export function percentile(xs: readonly number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

/**
 * Polls GET /healthz from its own client until stopped; the latencies show whether the API stayed
 * responsive for others while it was being fuzzed.
 */
export function healthProbe(base: string, everyMs = 25): { stop: () => Promise<number[]> } {
  const latencies: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const a = await send(`${base}/healthz`, { method: 'GET' }, 10_000);
      if (a.status !== 200) throw new Error(`/healthz answered ${a.status} during the fuzz`);
      latencies.push(a.ms);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return latencies;
    },
  };
}

/** One HTTP answer, body parsed when it is JSON. */
export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

/** Sends a request to the API; rejects on a network error or a timeout, like a real client sees them. */
export async function call(
  base: string,
  method: string,
  path: string,
  o: { key?: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(o.key ? { authorization: `Bearer ${o.key}` } : {}),
      ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...o.headers,
    },
    body: o.body !== undefined ? JSON.stringify(o.body) : undefined,
    signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body };
}

/** True when GET `url` answers 2xx within 3 s: the readiness probe of the stack's HTTP processes. */
export const answersOk = (url: string): Promise<boolean> =>
  fetch(url, { signal: AbortSignal.timeout(3000) }).then(
    (r) => r.ok,
    () => false,
  );

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** True with probability p. */
export const chance = (p: number): boolean => Math.random() < p;

/** A whole number in [lo, hi]. */
export const between = (lo: number, hi: number): number => lo + Math.floor(Math.random() * (hi - lo + 1));

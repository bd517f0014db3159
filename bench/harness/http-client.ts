import http from 'node:http';

/**
 * The load generator's HTTP client: `node:http` on kept-alive connections. The generator shares the
 * machine's cores with the system it measures, so what it spends per call is taken from the system
 * and shows in the latencies it reports: `fetch` (undici, WHATWG streams) cost about 0.9-1.8 ms of
 * the benchmark's CPU per request here, this client 0.3-0.7 ms (docs/benchmarks.md, ninth round).
 */
export interface HttpResponse {
  status: number;
  body: string;
}

/** One pool of kept-alive connections per process; as many as there are calls in flight. */
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

/** Sends one request and reads the whole answer; rejects on a network error (not on an HTTP status). */
export function httpCall(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const headers = { ...opts.headers };
    if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));
    const req = http.request(url, { method: opts.method ?? 'GET', headers, agent }, (res) => {
      res.setEncoding('utf8');
      let body = '';
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** {@link httpCall}, its body read as JSON. */
export async function httpJson<T>(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; json: T }> {
  const res = await httpCall(url, opts);
  return { status: res.status, json: JSON.parse(res.body) as T };
}

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpCall, httpJson } from '../../../bench/harness/http-client';

/** The benchmark's HTTP client against a real local server: what it sends, what it reads back. */
let server: http.Server;
let base: string;
const seen: { method?: string; headers: http.IncomingHttpHeaders; body: string; socket: number }[] = [];
const sockets = new Map<unknown, number>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (!sockets.has(req.socket)) sockets.set(req.socket, sockets.size);
      seen.push({ method: req.method, headers: req.headers, body, socket: sockets.get(req.socket)! });
      if (req.url === '/missing') {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"nope"}');
        return;
      }
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ echo: body, path: req.url }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

test('posts a body with its length and headers, and reads the status and JSON answer', async () => {
  const body = JSON.stringify({ prompt: 'héllo' });
  const res = await httpJson<{ echo: string; path: string }>(`${base}/v1/inference`, {
    method: 'POST',
    headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
    body,
  });
  expect(res).toEqual({ status: 202, json: { echo: body, path: '/v1/inference' } });
  const req = seen.at(-1)!;
  expect(req.method).toBe('POST');
  expect(req.headers.authorization).toBe('Bearer k');
  expect(req.headers['content-length']).toBe(String(Buffer.byteLength(body)));
});

test('an HTTP error status is returned, not thrown', async () => {
  await expect(httpCall(`${base}/missing`)).resolves.toEqual({ status: 404, body: '{"error":"nope"}' });
});

test('calls one after another reuse a kept-alive connection', async () => {
  const before = seen.length;
  for (let i = 0; i < 3; i++) await httpCall(`${base}/again`);
  const used = new Set(seen.slice(before).map((s) => s.socket));
  expect(used.size).toBe(1);
});

test('a refused connection rejects', async () => {
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  await expect(httpCall(`http://127.0.0.1:${port}/`)).rejects.toThrow(/ECONNREFUSED/);
});

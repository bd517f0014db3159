import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec } from '../../../src/codec/encryption-codec';
import { createCodecApp, type CodecAppOptions } from '../../../src/codec-server/create-codec-app';

const TOKEN = 'c0dec5e7a9b1c3d5e7f90a1b2c3d4e5f6a7b8c9d';
const UI = 'http://127.0.0.1:8233';
const codec = new EncryptionCodec({ keys: [{ id: 'k1', key: randomBytes(32) }], activeKeyId: 'k1' });
const servers: Server[] = [];

async function serve(opts: Partial<CodecAppOptions> = {}): Promise<string> {
  const app = createCodecApp({ codec, token: TOKEN, corsOrigins: [UI], namespace: 'default', ...opts });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A payload in the protocol's JSON form: metadata values and data in base64. */
async function encryptedJson(value: unknown): Promise<{ metadata: Record<string, string>; data: string }> {
  const [p] = await codec.encode([defaultPayloadConverter.toPayload(value)]);
  return {
    metadata: Object.fromEntries(
      Object.entries(p!.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
    data: Buffer.from(p!.data!).toString('base64'),
  };
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers },
    body: JSON.stringify(body),
  });

test('decode with the token answers the plain payloads', async () => {
  const base = await serve();
  const res = await post(
    `${base}/decode`,
    { payloads: [await encryptedJson({ prompt: 'hello' })] },
    {
      authorization: `Bearer ${TOKEN}`,
    },
  );
  expect(res.status).toBe(200);
  const { payloads } = (await res.json()) as {
    payloads: { metadata: Record<string, string>; data: string }[];
  };
  expect(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('json/plain');
  expect(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString())).toEqual({ prompt: 'hello' });
});

test('encode then decode over HTTP round-trips', async () => {
  const base = await serve();
  const auth = { authorization: `Bearer ${TOKEN}` };
  const plain = {
    metadata: { encoding: Buffer.from('json/plain').toString('base64') },
    data: Buffer.from('"x"').toString('base64'),
  };
  const enc = (await (await post(`${base}/encode`, { payloads: [plain] }, auth)).json()) as {
    payloads: unknown[];
  };
  expect(JSON.stringify(enc)).not.toContain(plain.data);
  const dec = (await (await post(`${base}/decode`, enc, auth)).json()) as { payloads: unknown[] };
  expect(dec.payloads).toEqual([plain]);
});

test.each([
  ['no token', {}],
  ['a wrong token', { authorization: 'Bearer nope' }],
  ['a token of another scheme', { authorization: `Basic ${TOKEN}` }],
  ['the Web UI origin without a token', { origin: UI }],
  ['the Web UI origin with a wrong token', { origin: UI, authorization: 'Bearer nope' }],
])('%s: 401', async (_name, headers) => {
  const base = await serve();
  const res = await post(`${base}/decode`, { payloads: [await encryptedJson('x')] }, headers);
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toBe('Bearer');
  expect(((await res.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
});

test('CORS preflight from the Web UI origin is allowed; from another origin refused', async () => {
  const base = await serve();
  const preflight = (origin: string): Promise<Response> =>
    fetch(`${base}/decode`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace,authorization',
      },
    });
  const ok = await preflight(UI);
  expect(ok.status).toBe(204);
  expect(ok.headers.get('access-control-allow-origin')).toBe(UI);
  expect(ok.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/);
  expect(ok.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
  expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
  const other = await preflight('https://evil.example');
  expect(other.status).toBe(403);
  expect(other.headers.get('access-control-allow-origin')).toBeNull();
});

test('an allowed Origin is no credential: encode and decode need the token, and a refusal is reported', async () => {
  const refused: string[] = [];
  const base = await serve({ onRefused: (req) => refused.push(`${req.method} ${req.path}`) });
  const body = { payloads: [await encryptedJson('x')] };
  for (const op of ['decode', 'encode']) {
    const res = await post(`${base}/${op}`, body, { origin: UI });
    expect(res.status).toBe(401);
    // The browser may read the refusal (CORS headers) but gets nothing decoded.
    expect(res.headers.get('access-control-allow-origin')).toBe(UI);
    expect(await res.text()).not.toContain('payloads');
  }
  expect(refused).toEqual(['POST /decode', 'POST /encode']);
  const ok = await post(`${base}/decode`, body, { origin: UI, authorization: `Bearer ${TOKEN}` });
  expect(ok.status).toBe(200);
});

test('another namespace, a malformed body and an undecodable payload are 4xx', async () => {
  const base = await serve();
  const auth = { authorization: `Bearer ${TOKEN}` };
  const payload = await encryptedJson('x');
  expect(
    (await post(`${base}/decode`, { payloads: [payload] }, { ...auth, 'x-namespace': 'other' })).status,
  ).toBe(403);
  expect((await post(`${base}/decode`, { nope: 1 }, auth)).status).toBe(400);
  const tampered = { ...payload, data: Buffer.from('x'.repeat(40)).toString('base64') };
  const res = await post(`${base}/decode`, { payloads: [tampered] }, auth);
  expect(res.status).toBe(400);
  expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
    /does not authenticate/,
  );
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { ROUTE_DOCS } from '../../src/api/openapi/api-document';
import { startApiReplica, type ApiReplica } from '../support/api-replica';
import { startStack, type Stack } from '../support/stack';

/**
 * Issue 12 item 4: two tenants on one deployment. A can neither read, list, cancel, stream, nor be
 * charged for B's work on any endpoint (another tenant's id is 404, never 403); the same
 * Idempotency-Key is two requests; each tenant's webhook endpoints get only its own events; tenant
 * keys never open /admin; secrets (API keys, webhook secrets) appear once, in the answer that created
 * them, and never in a later answer or in the API's logs.
 */
let s: Stack;
let api: ApiReplica;
const logLines: string[] = [];

interface Receiver {
  url: string;
  bodies: string[];
  server: Server;
}
const receivers: Record<'A' | 'B', Receiver> = {} as never;

async function receiver(): Promise<Receiver> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let b = '';
    req.on('data', (c: Buffer) => (b += c.toString()));
    req.on('end', () => {
      bodies.push(b);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies, server };
}

beforeAll(async () => {
  s = await startStack({ env: { WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32', WEBHOOK_RETRY_INITIAL_MS: '200' } });
  // The API under test is a replica whose every log line (debug and up) is kept, as a log shipper
  // would see it; the stack's own API is not used.
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines.push(chunk.toString());
      cb();
    },
  });
  api = await startApiReplica(s, {
    name: 'isolation',
    logger: pino({ level: 'trace', base: { component: 'api' } }, sink),
  });
  receivers.A = await receiver();
  receivers.B = await receiver();
});
afterAll(async () => {
  await api?.stop();
  for (const r of Object.values(receivers)) await new Promise((done) => r.server.close(done));
  await s?.stop();
});

interface Reply {
  status: number;
  replayed: string | null;
  text: string;
  body: any;
}
async function call(
  key: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, replayed: res.headers.get('idempotent-replayed'), text, body: parsed };
}
const admin = (method: string, path: string, body?: unknown) => call(s.cfg.ADMIN_TOKEN, method, path, body);

/** Every secret the test has seen; none may show up anywhere after the answer that created it. */
const secrets: string[] = [];
/** Every answer after creation, to grep for the secrets. */
const later: string[] = [];

async function tenant(name: 'A' | 'B') {
  const id = `iso-${name.toLowerCase()}-${Date.now().toString(36)}`;
  expect((await admin('POST', '/admin/tenants', { id, name: `tenant ${name}` })).status).toBe(201);
  const key = await admin('POST', `/admin/tenants/${id}/keys`, { label: name });
  expect(key.status).toBe(201);
  const hook = await admin('POST', `/admin/tenants/${id}/webhooks`, { url: receivers[name].url });
  expect(hook.status).toBe(201);
  const reqSecret = await admin('POST', `/admin/tenants/${id}/webhooks/request-secret`);
  expect(reqSecret.status).toBe(201);
  secrets.push(key.body.secret, hook.body.secret, reqSecret.body.secret);
  return { id, key: key.body.secret as string, keyId: key.body.id as string };
}

async function finished(key: string, id: string): Promise<any> {
  for (let i = 0; i < 600; i++) {
    const r = await call(key, 'GET', `/v1/inference/${id}`);
    later.push(r.text);
    if (['completed', 'failed', 'cancelled', 'rejected'].includes(r.body?.status)) return r.body;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`${id} did not finish`);
}

/** What the tenant can see of its own usage and quota (the windows' used/reserved counters). */
async function account(key: string): Promise<unknown> {
  const q = (await call(key, 'GET', '/v1/quota')).body.limits as Record<string, Record<string, unknown>>;
  // Not the minute window: it empties at each minute's turn, which may fall between two reads
  // (requests_per_day counts the same requests).
  const used = Object.fromEntries(
    Object.entries(q)
      .filter(([k]) => k !== 'requests_per_minute')
      .map(([k, v]) => [k, { used: v.used, reserved: v.reserved }]),
  );
  const usage = (await call(key, 'GET', '/v1/usage?group_by=day,model')).body;
  const ids = async (path: string): Promise<string[]> =>
    ((await call(key, 'GET', path)).body as { data: { id: string }[] }).data.map((r) => r.id);
  const list = await ids('/v1/inference?limit=100');
  const batches = await ids('/v1/batches');
  return { used, usage: usage.data, total: usage.total, list, batches };
}

test('tenant A sees, lists, cancels, streams and pays for none of B’s work', async () => {
  const A = await tenant('A');
  const B = await tenant('B');

  // A's work, finished, before B starts: from then on, nothing of A's may change.
  const submit = { model: 'ref-small', prompt: 'isolation', max_tokens: 4 };
  const rA = await call(A.key, 'POST', '/v1/inference', submit, { 'idempotency-key': 'shared-key-1' });
  expect(rA.status).toBe(202);
  await finished(A.key, rA.body.id);
  const batchA = await call(A.key, 'POST', '/v1/batches', [{ custom_id: 'a', body: submit }]);
  expect(batchA.status).toBe(202);
  for (let i = 0; i < 300; i++) {
    if ((await call(A.key, 'GET', `/v1/batches/${batchA.body.id}`)).body.status === 'completed') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 300));
  const aBefore = await account(A.key);

  // B's traffic: the same Idempotency-Key (even the same body) is B's own new request.
  const rB = await call(B.key, 'POST', '/v1/inference', submit, { 'idempotency-key': 'shared-key-1' });
  expect(rB.status).toBe(202);
  expect(rB.replayed).toBeNull();
  expect(rB.body.id).not.toBe(rA.body.id);
  // A different body under the same key is no conflict across tenants either.
  const rB2 = await call(
    B.key,
    'POST',
    '/v1/inference',
    { ...submit, prompt: 'other' },
    {
      'idempotency-key': 'shared-key-2',
    },
  );
  const rA2 = await call(
    A.key,
    'POST',
    '/v1/inference',
    { ...submit, prompt: 'mine' },
    {
      'idempotency-key': 'shared-key-2',
    },
  );
  expect([rB2.status, rA2.status]).toEqual([202, 202]);
  expect(rB2.body.id).not.toBe(rA2.body.id);
  await finished(A.key, rA2.body.id);
  const aAfterOwn = await account(A.key);
  // A long-running B request, to try to cancel and stream while it runs.
  const longB = await call(B.key, 'POST', '/v1/inference', { ...submit, max_tokens: 2000 });
  const chatB = await call(B.key, 'POST', '/v1/chat/completions', {
    model: 'ref-small',
    messages: [{ role: 'user', content: 'hi' }],
    max_tokens: 4,
  });
  expect(chatB.status).toBe(200);
  const complB = await call(B.key, 'POST', '/v1/completions', {
    model: 'ref-small',
    prompt: 'x',
    max_tokens: 4,
  });
  expect(complB.status).toBe(200);
  const batchB = await call(B.key, 'POST', '/v1/batches', [{ custom_id: 'b', body: submit }]);
  expect(batchB.status).toBe(202);

  const bIds = [rB.body.id, rB2.body.id, longB.body.id, chatB.body.id, complB.body.id];
  for (const id of bIds) {
    for (const [method, path] of [
      ['GET', `/v1/inference/${id}`],
      ['GET', `/v1/inference/${id}/stream`],
      ['POST', `/v1/inference/${id}/cancel`],
    ] as const) {
      const r = await call(A.key, method, path);
      expect({ method, path, status: r.status, type: r.body?.error?.type }).toEqual({
        method,
        path,
        status: 404,
        type: 'not_found_error',
      });
    }
  }
  for (const [method, path] of [
    ['GET', `/v1/batches/${batchB.body.id}`],
    ['GET', `/v1/batches/${batchB.body.id}/results`],
    ['POST', `/v1/batches/${batchB.body.id}/cancel`],
  ] as const) {
    const r = await call(A.key, method, path);
    expect({ path, status: r.status }).toEqual({ path, status: 404 });
  }
  // A cannot page from B's batch either.
  expect((await call(A.key, 'GET', `/v1/batches?after=${batchB.body.id}`)).status).toBe(400);
  // B's long request was not cancelled by A's attempt.
  expect((await call(B.key, 'GET', `/v1/inference/${longB.body.id}`)).body.status).not.toBe('cancelled');
  await call(B.key, 'POST', `/v1/inference/${longB.body.id}/cancel`);
  for (const id of bIds) await finished(B.key, id);
  for (let i = 0; i < 300; i++) {
    if ((await call(B.key, 'GET', `/v1/batches/${batchB.body.id}`)).body.status === 'completed') break;
    await new Promise((r) => setTimeout(r, 100));
  }

  // A's account is what A's own traffic made it, B's traffic added nothing; and B's the same way.
  const aAfter = await account(A.key);
  expect(aAfter).toEqual(aAfterOwn);
  expect((aAfterOwn as { list: string[] }).list).toEqual([
    rA2.body.id,
    ...(aBefore as { list: string[] }).list,
  ]);
  const bAccount = (await account(B.key)) as { list: string[]; batches: string[] };
  expect(bAccount.list).not.toContain(rA.body.id);
  expect(bAccount.list).not.toContain(rA2.body.id);
  expect(bAccount.batches).toEqual([batchB.body.id]);
  for (const id of [rA.body.id, rA2.body.id])
    expect((await call(B.key, 'GET', `/v1/inference/${id}`)).status).toBe(404);

  // Webhooks: each tenant's endpoint got its own events and nothing of the other's.
  const idsIn = (r: Receiver) => r.bodies.map((b) => (JSON.parse(b) as { data: { id: string } }).data.id);
  for (
    let i = 0;
    i < 200 && !(idsIn(receivers.A).includes(rA2.body.id) && idsIn(receivers.B).includes(chatB.body.id));
    i++
  )
    await new Promise((r) => setTimeout(r, 100));
  expect(idsIn(receivers.A)).toEqual(expect.arrayContaining([rA.body.id, rA2.body.id]));
  expect(idsIn(receivers.B)).toEqual(expect.arrayContaining(bIds));
  for (const id of bIds) expect(idsIn(receivers.A)).not.toContain(id);
  for (const id of [rA.body.id, rA2.body.id]) expect(idsIn(receivers.B)).not.toContain(id);
});

test('tenant keys never open /admin; admin lists show no secret; no secret is ever logged', async () => {
  const A = await tenant('A');
  for (const d of ROUTE_DOCS.filter((r) => r.auth === 'admin')) {
    const path = d.path.replace(':id', A.id).replace(':keyId', A.keyId).replace(/:\w+/g, 'x');
    const r = await call(A.key, d.method.toUpperCase(), path, d.body ? {} : undefined);
    expect({ route: `${d.method} ${d.path}`, status: r.status }).toEqual({
      route: `${d.method} ${d.path}`,
      status: 401,
    });
  }
  later.push((await admin('GET', `/admin/tenants/${A.id}/keys`)).text);
  later.push((await admin('GET', `/admin/tenants/${A.id}/webhooks`)).text);
  later.push((await admin('GET', `/admin/tenants/${A.id}`)).text);
  later.push((await admin('GET', `/admin/audit-log?tenant=${A.id}`)).text);
  later.push((await call(A.key, 'GET', '/v1/quota')).text);
  const rotated = await admin('POST', `/admin/tenants/${A.id}/keys/${A.keyId}/rotate`, {});
  secrets.push(rotated.body.secret);
  later.push((await admin('GET', `/admin/tenants/${A.id}/keys`)).text);
  // A call with a wrong key must not log the key it was given either.
  const wrong = `sk-live-wrong-${Date.now()}`;
  secrets.push(wrong);
  expect((await call(wrong, 'GET', '/v1/quota')).status).toBe(401);

  expect(secrets.length).toBeGreaterThanOrEqual(8);
  expect(logLines.length).toBeGreaterThan(0);
  const logs = logLines.join('');
  for (const secret of [...secrets, s.cfg.ADMIN_TOKEN]) {
    // A webhook secret's base64 body alone must not leak either (an API key is base64url, so any
    // '_' in it is random: its fragments are no secret of their own).
    const base64 = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : undefined;
    for (const [where, text] of [
      ['logs', logs],
      ['later answers', later.join('\n')],
    ] as const) {
      expect({ where, leaked: text.includes(secret) }).toEqual({ where, leaked: false });
      if (base64) expect({ where, leaked: text.includes(base64) }).toEqual({ where, leaked: false });
    }
  }
});

test('/metrics is not served on the public API port', async () => {
  const r = await fetch(`${api.url}/metrics`);
  expect(r.status).toBe(404);
  expect(await r.text()).not.toContain('inference_');
});

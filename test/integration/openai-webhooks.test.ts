import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { startStack, type Stack } from '../support/stack';

/**
 * OpenAI-shaped webhook events (`response.*`, `batch.*`) to a tenant's endpoint that subscribes to
 * them by name, beside the native `inference.*` ones: the official client's `webhooks.unwrap`
 * accepts them, and an independent Standard Webhooks check agrees.
 */
let s: Stack;
let client: OpenAI;
let server: Server;
let hookUrl: string;
const received: { headers: IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  s = await startStack({
    env: { WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32', WEBHOOK_RETRY_INITIAL_MS: '200' },
  });
  client = new OpenAI({ baseURL: `${s.apiUrl}/v1`, apiKey: s.apiKey, maxRetries: 0 });
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await s?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Standard Webhooks verification written from the spec, not with the system's signer. */
function verify(secret: string, r: { headers: IncomingHttpHeaders; body: string }): boolean {
  const id = String(r.headers['webhook-id']);
  const ts = String(r.headers['webhook-timestamp']);
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${r.body}`).digest();
  return String(r.headers['webhook-signature'])
    .split(' ')
    .some((sig) => {
      const [version, mac] = sig.split(',');
      const got = Buffer.from(mac ?? '', 'base64');
      return version === 'v1' && got.length === expected.length && timingSafeEqual(got, expected);
    });
}

/** The deliveries received about `objectId`, waiting until `n` came. */
async function deliveriesOf(objectId: string, n: number) {
  const of = () =>
    received.filter((r) => {
      const b = JSON.parse(r.body) as { data?: { id?: string } };
      return b.data?.id === objectId;
    });
  for (let i = 0; i < 300 && of().length < n; i++) await sleep(100);
  return of();
}

const headersOf = (h: IncomingHttpHeaders): Record<string, string> =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k, String(v)]));

test('response.* events in OpenAI shape, unwrapped by the openai client; native events unchanged', async () => {
  const admin = s.cfg.ADMIN_TOKEN;
  const bad = await s.call(
    'POST',
    `/admin/tenants/${s.tenantId}/webhooks`,
    { url: hookUrl, events: ['response.bogus'] },
    admin,
  );
  expect({ status: bad.status, param: bad.body.error.param }).toEqual({ status: 400, param: 'events[0]' });
  const endpoint = await s.call(
    'POST',
    `/admin/tenants/${s.tenantId}/webhooks`,
    {
      url: hookUrl,
      events: [
        'completed',
        'response.completed',
        'response.incomplete',
        'response.cancelled',
        'batch.completed',
      ],
    },
    admin,
  );
  expect(endpoint.status).toBe(201);
  const secret = endpoint.body.secret as string;

  const r = await client.responses.create({
    model: 'ref-small',
    input: 'notify me [[stop:3]]',
    background: true,
  });
  const [a, b] = await deliveriesOf(r.id, 2);
  const got = [a!, b!].map((d) => JSON.parse(d.body) as Record<string, unknown>);
  const openAi = [a!, b!][got.findIndex((g) => g.object === 'event')]!;
  const native = got.find((g) => g.object !== 'event')!;
  expect(native).toMatchObject({ type: 'inference.completed', data: { id: r.id, status: 'completed' } });

  const event = await client.webhooks.unwrap(openAi.body, headersOf(openAi.headers), secret);
  expect(event).toMatchObject({ object: 'event', type: 'response.completed', data: { id: r.id } });
  expect((event as { id: string }).id).toMatch(/^evt_[a-f0-9]{32}$/);
  expect(Math.abs((event as { created_at: number }).created_at - Date.now() / 1000)).toBeLessThan(60);
  expect(verify(secret, openAi)).toBe(true);
  expect(String(openAi.headers['webhook-id'])).toBe(`whk-${r.id}-response.completed-${endpoint.body.id}`);
  // A changed body or the wrong secret is refused by the client.
  await expect(
    client.webhooks.unwrap(openAi.body.replace(r.id, 'inf_x'), headersOf(openAi.headers), secret),
  ).rejects.toThrow();
  expect(
    verify(
      secret.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')),
      openAi,
    ),
  ).toBe(false);

  // Ended by max_output_tokens: response.incomplete.
  const cut = await client.responses.create({ model: 'ref-small', input: 'long', max_output_tokens: 4 });
  expect(cut.status).toBe('incomplete');
  const cutEvents = (await deliveriesOf(cut.id, 2)).map((d) => JSON.parse(d.body) as { type: string });
  expect(cutEvents.map((e) => e.type).sort()).toEqual(['inference.completed', 'response.incomplete']);

  // A plain request is no response: only its native event.
  const plain = await s.call('POST', '/v1/inference', { model: 'ref-small', prompt: 'plain', max_tokens: 3 });
  await s.waitFinished(plain.body.id);
  await sleep(1500);
  expect((await deliveriesOf(plain.body.id, 1)).map((d) => JSON.parse(d.body).type)).toEqual([
    'inference.completed',
  ]);
});

test('batch.completed when a batch ends, from the one place batches end', async () => {
  const secret = (
    await s.call(
      'POST',
      `/admin/tenants/${s.tenantId}/webhooks`,
      { url: `${hookUrl}?batch`, events: ['batch.completed', 'batch.cancelled'] },
      s.cfg.ADMIN_TOKEN,
    )
  ).body.secret as string;
  const created = await s.call(
    'POST',
    '/v1/batches',
    [0, 1].map((i) => ({
      custom_id: `c-${i}`,
      body: { model: 'ref-small', prompt: `p${i}`, max_tokens: 2 },
    })),
  );
  expect(created.status).toBe(202);
  const batchId = created.body.id as string;
  // The first endpoint subscribed to batch.completed too: one delivery to each.
  const all = await deliveriesOf(batchId, 2);
  expect(all).toHaveLength(2);
  const mine = all.find((x) => verify(secret, x));
  expect(mine).toBeDefined();
  const event = await client.webhooks.unwrap(mine!.body, headersOf(mine!.headers), secret);
  expect(event).toMatchObject({ object: 'event', type: 'batch.completed', data: { id: batchId } });
});

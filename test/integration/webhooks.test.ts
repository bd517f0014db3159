import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AddressPolicy } from '../../src/webhooks/address-policy';
import { postWebhook } from '../../src/webhooks/webhook-http';
import { recordHistories } from '../support/record-histories';
import { startStack, type Stack } from '../support/stack';

/**
 * Webhooks end to end: a receiver that fails, then is down, still gets each event (at least once,
 * one webhook-id per event and target, Standard Webhooks signature), every attempt is visible on
 * the request, and private addresses are refused unless the operator allowed them.
 */
let s: Stack;
beforeAll(async () => {
  s = await startStack({
    env: {
      // The operator allows the test's loopback receiver, and only it.
      WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
      WEBHOOK_RETRY_INITIAL_MS: '200',
      WEBHOOK_RETRY_MAX_INTERVAL_MS: '800',
    },
  });
});
/** Workflow ids whose histories RECORD_WEBHOOK_HISTORIES=1 writes to test/replay/histories/webhook-v1/. */
const recorded: Record<string, string> = {};
afterAll(async () => {
  if (process.env.RECORD_WEBHOOK_HISTORIES === '1') await recordHistories(s.client, 'webhook-v1', recorded);
  await s?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  answered: number;
}

/** Standard Webhooks verification, written from the spec (not with the system's signer). */
function verify(secret: string, r: Received): boolean {
  const id = String(r.headers['webhook-id']);
  const ts = String(r.headers['webhook-timestamp']);
  if (Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const key = Buffer.from(secret.split('_')[1]!, 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${r.body}`).digest();
  return String(r.headers['webhook-signature'])
    .split(' ')
    .some((sig) => {
      const [version, mac] = sig.split(',');
      const got = Buffer.from(mac ?? '', 'base64');
      return version === 'v1' && got.length === expected.length && timingSafeEqual(got, expected);
    });
}

/** A receiver that answers 500 to the first `failFirst` calls, then goes down for `downMs`, then 204. */
class FlakyReceiver {
  received: Received[] = [];
  private server?: Server;
  port = 0;

  constructor(
    private readonly failFirst: number,
    private readonly downMs: number,
  ) {}

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const failing = this.received.length < this.failFirst;
        const answered = failing ? 500 : 204;
        this.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString(), answered });
        res.writeHead(answered).end();
        if (this.received.length === this.failFirst) void this.outage();
      });
    });
    const server = this.server;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
  }

  /** Closes the port, then reopens it on the same port later. */
  private async outage(): Promise<void> {
    await this.stop();
    await sleep(this.downMs);
    await this.start(this.port);
  }

  async stop(): Promise<void> {
    const srv = this.server;
    if (!srv) return;
    this.server = undefined;
    srv.closeAllConnections();
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}

let receiver: FlakyReceiver | undefined;
afterEach(async () => {
  await receiver?.stop();
});

test('a receiver that fails and goes down still gets every event, signed, one webhook-id each; attempts on GET', async () => {
  receiver = new FlakyReceiver(2, 1500);
  await receiver.start();
  const hookUrl = `http://127.0.0.1:${receiver.port}/hook`;
  const admin = s.cfg.ADMIN_TOKEN;
  const requestSecret = (
    await s.call('POST', `/admin/tenants/${s.tenantId}/webhooks/request-secret`, {}, admin)
  ).body.secret as string;
  expect(requestSecret).toMatch(/^whsec_[A-Za-z0-9+/=]+$/);
  const endpoint = await s.call(
    'POST',
    `/admin/tenants/${s.tenantId}/webhooks`,
    { url: `${hookUrl}?endpoint`, events: ['completed', 'failed'] },
    admin,
  );
  expect(endpoint.status).toBe(201);
  expect(endpoint.body).toMatchObject({ url: `${hookUrl}?endpoint`, events: ['completed', 'failed'] });
  const endpointSecret = endpoint.body.secret as string;

  const submitted = await s.call('POST', '/v1/inference', {
    model: 'ref-small',
    prompt: 'tell the hook',
    max_tokens: 8,
    webhook_url: hookUrl,
    webhook_events: ['completed'],
  });
  expect(submitted.status).toBe(202);
  const id = submitted.body.id as string;
  await s.waitFinished(id);

  const ids = [`whk-${id}-completed-req`, `whk-${id}-completed-${endpoint.body.id}`];
  const delivered = (): string[] =>
    receiver!.received.filter((r) => r.answered === 204).map((r) => String(r.headers['webhook-id']));
  const deadline = Date.now() + 30_000;
  while (!ids.every((x) => delivered().includes(x)) && Date.now() < deadline) await sleep(100);
  expect(delivered().sort()).toEqual([...ids].sort());
  recorded['delivered-after-failures-request-url.json'] = ids[0]!;
  recorded['delivered-after-failures-endpoint.json'] = ids[1]!;

  for (const r of receiver.received) {
    const whId = String(r.headers['webhook-id']);
    expect(ids).toContain(whId);
    expect(verify(whId.endsWith('-req') ? requestSecret : endpointSecret, r)).toBe(true);
    // The wrong secret does not verify.
    expect(verify(whId.endsWith('-req') ? endpointSecret : requestSecret, r)).toBe(false);
    const payload = JSON.parse(r.body);
    expect(payload).toMatchObject({
      type: 'inference.completed',
      data: { id, status: 'completed', model: 'ref-small' },
    });
    expect(payload.data.usage.total_tokens).toBeGreaterThan(0);
  }
  // Every attempt of one delivery carries the same body (so a receiver may dedupe on webhook-id).
  for (const whId of ids) {
    const bodies = new Set(
      receiver.received.filter((r) => r.headers['webhook-id'] === whId).map((r) => r.body),
    );
    expect(bodies.size).toBe(1);
  }

  interface AttemptView {
    status_code: number | null;
    error: string | null;
  }
  type View = {
    webhooks: { id: string; event: string; delivered_at: string | null; attempts: AttemptView[] }[];
  };
  // The receiver's 204 reaches it a moment before the delivery activity records it: read the view
  // once every delivery is recorded (or after 10 s, and let the assertions say what is missing).
  let view = (await s.call('GET', `/v1/inference/${id}`)).body as View;
  for (let i = 0; i < 100 && !view.webhooks.every((w) => w.delivered_at); i++) {
    await new Promise((r) => setTimeout(r, 100));
    view = (await s.call('GET', `/v1/inference/${id}`)).body as View;
  }
  expect(view.webhooks).toHaveLength(2);
  const failedFirst = receiver.received.slice(0, 2).map((r) => String(r.headers['webhook-id']));
  for (const w of view.webhooks) {
    expect(w.event).toBe('completed');
    expect(w.delivered_at).toEqual(expect.any(String));
    const last = w.attempts[w.attempts.length - 1];
    expect(last?.status_code).toBe(204);
    for (const a of w.attempts)
      expect(a).toEqual(expect.objectContaining({ at: expect.any(String), duration_ms: expect.any(Number) }));
    const mine = failedFirst.filter((x) => x === w.id).length;
    // Its share of the two 500s, then (after the outage at least one refused connection, or none if it
    // was retried after the receiver came back) the 204.
    expect(w.attempts.filter((a) => a.status_code === 500)).toHaveLength(mine);
  }
  // Across both deliveries the outage cost at least one attempt that got no answer.
  const noAnswer = view.webhooks.flatMap((w) => w.attempts.filter((a) => a.status_code === null));
  expect(noAnswer.length).toBeGreaterThanOrEqual(1);
  expect(noAnswer[0]!.error).toMatch(/ECONNREFUSED|refused|socket/i);

  // The endpoint is listed without its secret, and deletes.
  const listed = await s.call('GET', `/admin/tenants/${s.tenantId}/webhooks`, undefined, admin);
  expect(listed.body.data).toEqual([expect.objectContaining({ id: endpoint.body.id })]);
  expect(listed.body.data[0].secret).toBeUndefined();
  expect(
    (await s.call('DELETE', `/admin/tenants/${s.tenantId}/webhooks/${endpoint.body.id}`, undefined, admin))
      .status,
  ).toBe(204);
  expect((await s.call('GET', `/admin/tenants/${s.tenantId}/webhooks`, undefined, admin)).body.data).toEqual(
    [],
  );

  // A retried notification (the activity runs again) starts nothing new: the workflow id is fixed.
  const { rows } = await s.pool.query('SELECT id FROM webhook_deliveries WHERE request_id = $1', [id]);
  expect(rows).toHaveLength(2);
});

test.each([
  'http://10.1.2.3/hook',
  'http://192.168.1.10/hook',
  'http://169.254.169.254/latest/meta-data',
  'http://[::1]:8080/hook',
  'http://127.0.0.2/hook',
  'ftp://example.com/hook',
  'not a url',
])('webhook_url %s without an operator allowance: 400 naming webhook_url, nothing created', async (url) => {
  const res = await s.call('POST', '/v1/inference', {
    model: 'ref-small',
    prompt: 'x',
    max_tokens: 4,
    webhook_url: url,
  });
  expect(res.status).toBe(400);
  expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param: 'webhook_url' });
  const admin = await s.call('POST', `/admin/tenants/${s.tenantId}/webhooks`, { url }, s.cfg.ADMIN_TOKEN);
  expect(admin.status).toBe(400);
  expect(admin.body.error.param).toBe('url');
});

test('at delivery time the resolved address is checked again (a name that resolves to loopback is refused)', async () => {
  receiver = new FlakyReceiver(0, 0);
  await receiver.start();
  const out = await postWebhook(
    `http://localhost:${receiver.port}/hook`,
    '{}',
    {},
    {
      policy: new AddressPolicy(),
      timeoutMs: 2000,
    },
  );
  expect(out).toMatchObject({ refused: true });
  expect(receiver.received).toHaveLength(0);
  // Allowed by the operator's CIDR: delivered.
  const ok = await postWebhook(
    `http://127.0.0.1:${receiver.port}/hook`,
    '{}',
    {},
    {
      policy: new AddressPolicy({ allowedCidrs: ['127.0.0.1/32'] }),
      timeoutMs: 2000,
    },
  );
  expect(ok).toEqual({ statusCode: 204 });
});

import { randomBytes } from 'node:crypto';
import dnsPromises from 'node:dns/promises';
import { IdempotencyStore } from '../../src/idempotency/idempotency-store';
import { RequestsRepo } from '../../src/requests/requests-repo';
import { WebhooksRepo } from '../../src/webhooks/webhooks-repo';
import { startStack, type Stack } from '../support/stack';

/**
 * Issue 26 item 4: what a hostile tenant's submits and status reads cost before they are refused.
 * A tenant at its quota sending webhook_url and Idempotency-Key submits gets 429 with no DNS
 * look-up and no row written; a replay of a key still replays.
 */
let s: Stack;
beforeAll(async () => {
  s = await startStack({ gpu: false });
});
afterAll(async () => {
  jest.restoreAllMocks();
  await s?.stop();
});

const newKey = (): string => `key-${randomBytes(6).toString('hex')}`;

/** Every DNS look-up of the process, answered with a public address (no network in tests). */
const lookups: string[] = [];
beforeEach(() => {
  lookups.length = 0;
  jest.spyOn(dnsPromises, 'lookup').mockImplementation((async (host: string) => {
    lookups.push(host);
    return [{ address: '93.184.215.14', family: 4 }];
  }) as never);
});
afterEach(() => jest.restoreAllMocks());

/** Calls of the row writers of a submit: request rows, webhook targets, idempotency keys. */
function spyWrites() {
  return {
    requests: jest.spyOn(RequestsRepo.prototype, 'insertQueued'),
    webhooks: jest.spyOn(WebhooksRepo.prototype, 'setRequestTarget'),
    keys: jest.spyOn(IdempotencyStore.prototype, 'insertPending'),
  };
}

/** Rows of the stack's tenant in each table a submit writes. */
async function rowCounts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of ['requests', 'request_webhooks', 'webhook_request_secrets', 'idempotency_keys']) {
    const { rows } = await s.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${table} WHERE tenant_id = $1`,
      [s.tenantId],
    );
    out[table] = rows[0]!.n;
  }
  return out;
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${s.apiUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${s.apiKey}`, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const hooked = (prompt: string) => ({
  model: 'ref-small',
  prompt,
  max_tokens: 8,
  webhook_url: 'https://hooks.example.com/inference',
});

describe('nothing expensive before the quota decision', () => {
  test('a tenant at its limit: 429 with no DNS look-up and no row, on every submit route', async () => {
    // A positive control first: with quota, the same submit looks the host up and writes its rows.
    await s.setLimits({ tokens_per_day: 1_000_000 });
    const ok = await post('/v1/inference', hooked('control'), { 'idempotency-key': newKey() });
    expect(ok.status).toBe(202);
    expect(lookups).toEqual(['hooks.example.com']);
    const before = await rowCounts();
    expect(before).toMatchObject({ requests: 1, request_webhooks: 1, idempotency_keys: 1 });

    await s.setLimits({ tokens_per_day: 0 });
    lookups.length = 0;
    const writes = spyWrites();
    const answers = [
      await post('/v1/inference', hooked('a')),
      await post('/v1/inference', hooked('b'), { 'idempotency-key': newKey() }),
      await post(
        '/v1/inference',
        { model: 'ref-small', prompt: 'c', max_tokens: 8 },
        { 'idempotency-key': newKey() },
      ),
      await post(
        '/v1/chat/completions',
        { model: 'ref-small', messages: [{ role: 'user', content: 'd' }], max_tokens: 8 },
        { 'idempotency-key': newKey() },
      ),
      await post(
        '/v1/completions',
        { model: 'ref-small', prompt: 'e', max_tokens: 8 },
        { 'idempotency-key': newKey() },
      ),
    ];
    for (const a of answers) {
      expect(a.status).toBe(429);
      expect(a.body.error).toMatchObject({ type: 'quota_exceeded', param: 'tokens_per_day' });
    }
    expect(lookups).toEqual([]);
    expect(writes.requests).not.toHaveBeenCalled();
    expect(writes.webhooks).not.toHaveBeenCalled();
    expect(writes.keys).not.toHaveBeenCalled();
    expect(await rowCounts()).toEqual(before);
    const prechecks = await s.metrics.registry.getSingleMetric('inference_quota_prechecks_total')!.get();
    const refused = prechecks.values.find(
      (v) => v.labels.before === 'side_effects' && v.labels.outcome === 'refused',
    );
    expect(refused?.value).toBeGreaterThanOrEqual(answers.length);
  });

  test('a key accepted before the tenant ran out still replays, with no look-up', async () => {
    await s.setLimits({ tokens_per_day: 1_000_000 });
    const key = newKey();
    const first = await post('/v1/inference', hooked('replay me'), { 'idempotency-key': key });
    expect(first.status).toBe(202);
    await s.setLimits({ tokens_per_day: 0 });
    lookups.length = 0;
    const again = await post('/v1/inference', hooked('replay me'), { 'idempotency-key': key });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(lookups).toEqual([]);
    // A different body under the same key is still refused as a reuse, not as quota.
    const reused = await post('/v1/inference', hooked('another body'), { 'idempotency-key': key });
    expect(reused.status).toBe(422);
    await s.setLimits({ tokens_per_day: 1_000_000 });
  });
});

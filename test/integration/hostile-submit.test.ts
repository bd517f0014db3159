import { randomBytes, randomUUID } from 'node:crypto';
import dnsPromises from 'node:dns/promises';
import type { AddressInfo } from 'node:net';
import { BatchRepo } from '../../src/batches/batch-repo';
import { IdempotencyStore } from '../../src/idempotency/idempotency-store';
import { DependencyMonitor } from '../../src/observability/dependency-monitor';
import { startMetricsServer } from '../../src/observability/metrics-server';
import { inferenceInput } from '../support/inference-input';
import { RequestsRepo } from '../../src/requests/requests-repo';
import { WebhooksRepo } from '../../src/webhooks/webhooks-repo';
import { startStack, type Stack } from '../support/stack';

/**
 * Issue 26 item 4: what a hostile tenant's submits and reads cost before they are refused. A tenant
 * at its quota sending webhook_url and Idempotency-Key submits gets 429 with no DNS look-up and no
 * row written (a replay of a key still replays); `stop` is bounded; /readyz says which dependency is
 * down but not why; a status read of an unknown id is a 404 with no Temporal call.
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

describe('stop and the other OpenAI parameters are bounded', () => {
  test.each([
    ['a 1 MB stop string', 'stop', { stop: 'x'.repeat(1_000_000) }],
    ['a 257-character third stop sequence', 'stop[2]', { stop: ['a', 'b', 'x'.repeat(257)] }],
    ['5 stop sequences', 'stop', { stop: ['a', 'b', 'c', 'd', 'e'] }],
    [
      '17 metadata pairs',
      'metadata',
      { metadata: Object.fromEntries([...Array(17).keys()].map((i) => [`k${i}`, 'v'])) },
    ],
  ])('%s: 400 naming %s, nothing written', async (_what, param, extra) => {
    const before = await rowCounts();
    const res = await post('/v1/chat/completions', {
      model: 'ref-small',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 8,
      ...extra,
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param });
    expect(await rowCounts()).toEqual(before);
  });
});

describe('/readyz', () => {
  const internal = 'connect ECONNREFUSED 10.43.7.19:7233 (temporal-frontend.prod.svc)';

  test("the API's public /readyz says which dependency is down, never why", async () => {
    const ping = jest.spyOn(s.client.workflowService, 'getSystemInfo').mockRejectedValue(new Error(internal));
    const res = await fetch(`${s.apiUrl}/readyz`);
    const text = await res.text();
    expect(ping).toHaveBeenCalled();
    expect(res.status).toBe(503);
    expect(JSON.parse(text)).toEqual({
      status: 'not_ready',
      checks: { temporal: { status: 'down' }, postgres: { status: 'ok' }, redis: { status: 'ok' } },
    });
    expect(text).not.toMatch(/10\.43|ECONNREFUSED|svc|7233/);
  });

  test("a worker's /readyz (metrics port) is the same; why goes to the log and dependency_up", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = {
      error: (o: Record<string, unknown>) => void lines.push(o),
      warn: () => undefined,
      info: () => undefined,
    };
    const monitor = new DependencyMonitor({ gauge: s.metrics.dependencyUp, logger: logger as never });
    const checks = monitor.watch([{ name: 'postgres', check: () => Promise.reject(new Error(internal)) }]);
    const server = await startMetricsServer({
      registry: s.metrics.registry,
      port: 0,
      host: '127.0.0.1',
      checks,
    });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
      for (let i = 0; i < 3; i++) {
        const res = await fetch(url);
        expect(res.status).toBe(503);
        expect(await res.text()).toBe(
          JSON.stringify({ status: 'not_ready', checks: { postgres: { status: 'down' } } }),
        );
      }
      // One log line for the outage, however often it is probed, with the detail.
      expect(lines).toEqual([expect.objectContaining({ dependency: 'postgres', err: internal })]);
      const up = (await s.metrics.dependencyUp.get()).values.find((v) => v.labels.dependency === 'postgres');
      expect(up?.value).toBe(0);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('status reads of unknown ids', () => {
  const lookups = async (outcome: string): Promise<number> =>
    (await s.metrics.registry.getSingleMetric('inference_request_lookups_total')!.get()).values.find(
      (v) => v.labels.outcome === outcome,
    )?.value ?? 0;
  const get = (path: string, key = s.apiKey, method = 'GET') =>
    fetch(`${s.apiUrl}${path}`, { method, headers: { authorization: `Bearer ${key}` } });

  test("unknown, malformed and other tenants' ids: 404 with no Temporal call", async () => {
    await s.setLimits({ tokens_per_day: 1_000_000 });
    // Another tenant's real request (its row written at accept).
    const theirs = await s.submit('not yours', 8);
    const otherKey = `sk-test-other-${randomBytes(8).toString('hex')}`;
    const other = `t-other-${randomBytes(4).toString('hex')}`;
    await s.tenants.ensure({ id: other, name: 'other tenant', tier: 'standard' });
    await s.tenants.addApiKey(other, otherKey);
    const temporal = jest.spyOn(s.client.workflow, 'getHandle');
    const unknownBefore = await lookups('unknown');
    const ids = [`inf_${randomUUID().replace(/-/g, '')}`, `inf_${'f'.repeat(32)}`];
    for (const id of ids) {
      expect((await get(`/v1/inference/${id}`)).status).toBe(404);
      expect((await get(`/v1/inference/${id}/cancel`, s.apiKey, 'POST')).status).toBe(404);
      expect((await get(`/v1/inference/${id}/stream`)).status).toBe(404);
    }
    expect((await get('/v1/inference/inf_not-an-id')).status).toBe(404);
    expect((await get(`/v1/inference/${theirs}`, otherKey)).status).toBe(404);
    expect((await get(`/v1/inference/${theirs}/cancel`, otherKey, 'POST')).status).toBe(404);
    expect(temporal).not.toHaveBeenCalled();
    expect((await lookups('unknown')) - unknownBefore).toBe(ids.length * 3 + 2);
  });

  test('a request accepted without its row is still found, through Temporal', async () => {
    const id = await s.submit('row written late', 8);
    // Its workflow is running (no GPU worker: it stays queued) ...
    for (let i = 0; ; i++) {
      const known = await s.client.workflow
        .getHandle(id)
        .describe()
        .then(
          () => true,
          () => false,
        );
      if (known) break;
      if (i > 100) throw new Error('workflow not started');
      await new Promise((r) => setTimeout(r, 50));
    }
    // ... and its row is missing, as when PostgreSQL could not take it at accept.
    await s.pool.query('DELETE FROM requests WHERE id = $1', [id]);
    const temporal = jest.spyOn(s.client.workflow, 'getHandle');
    const res = await get(`/v1/inference/${id}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      id,
      status: expect.stringMatching(/^(queued|running)$/),
      model: 'ref-small',
    });
    expect(temporal).toHaveBeenCalledTimes(1);
  });

  test('a batch item whose child has not started is looked up in Temporal (its reservation is not made yet)', async () => {
    const batchId = `batch_${randomUUID().replace(/-/g, '')}`;
    const input = inferenceInput('no-queue', { tenantId: s.tenantId });
    await new BatchRepo(s.pool, s.atRest).create({
      id: batchId,
      tenantId: s.tenantId,
      concurrency: 1,
      items: [{ customId: 'a', input }],
    });
    const temporal = jest.spyOn(s.client.workflow, 'getHandle');
    // No child workflow was started in this test: Temporal knows none, so 404 as before.
    expect((await get(`/v1/inference/${input.requestId}`)).status).toBe(404);
    expect(temporal).toHaveBeenCalledTimes(1);
  });
});

import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { Registry } from 'prom-client';
import type { Redis } from 'ioredis';
import { createAtRestSealer, type AtRestSealer } from '../../../src/codec/at-rest-sealer';
import type { SealedPayload } from '../../../src/codec/payload-sealer';
import { BatchRepo } from '../../../src/batches/batch-repo';
import { loadConfig } from '../../../src/config/load-config';
import { IdempotencyStore } from '../../../src/idempotency/idempotency-store';
import { createLogger } from '../../../src/observability/logger';
import { RequestsRepo } from '../../../src/requests/requests-repo';
import type { InferenceInput } from '../../../src/shared/types';
import { TokenRelay, type RelayEvent } from '../../../src/streams/token-relay';
import { WebhooksRepo } from '../../../src/webhooks/webhooks-repo';
import { ResponsesRepo } from '../../../src/openai/responses/responses-repo';
import type { StoredResponseRequest } from '../../../src/openai/responses/response-request';

/**
 * Each store that keeps a prompt or an output writes it sealed under the active key and reads it
 * back sealed under any known key (rotation) or in clear (rows of an earlier version). The stores
 * run on fakes of PostgreSQL and Redis that keep what they were given.
 */
const k1 = randomBytes(32).toString('base64');
const k2 = randomBytes(32).toString('base64');
const sealerOf = (env: Record<string, string>): AtRestSealer =>
  createAtRestSealer(loadConfig({ APP_ENV: 'development', ...env }), {
    registry: new Registry(),
    logger: createLogger({ component: 'test', level: 'silent' }),
  });
/** Before rotation: k1 only. */
const old = sealerOf({ PAYLOAD_KEYS: `k1:${k1}` });
/** After rotation: k2 seals, k1 still opens. */
const rotated = sealerOf({ PAYLOAD_KEYS: `k1:${k1},k2:${k2}`, PAYLOAD_ACTIVE_KEY_ID: 'k2' });

const SECRET = 'the secret prompt';
const input: InferenceInput = {
  requestId: 'req_1',
  tenantId: 't1',
  model: 'ref-small',
  prompt: SECRET,
  maxTokens: 8,
  promptTokens: 4,
  estimatedTokens: 12,
  acceptedAt: '2026-12-07T18:00:00.000Z',
  gpuTaskQueue: 'gpu',
  modelCall: { timeoutMs: 1000, maxAttempts: 1 },
  priority: { priorityKey: 3, fairnessKey: 't1' },
};

const keyIdOf = (v: unknown): string =>
  Buffer.from((v as SealedPayload).metadata['encryption-key-id']!, 'base64').toString();

/** A pool that records every statement and answers each with the next scripted rows. */
function fakePool(answers: unknown[][] = []) {
  const calls: { text: string; values: unknown[] }[] = [];
  const query = jest.fn(async (text: string, values: unknown[] = []) => {
    calls.push({ text, values });
    const rows = answers.shift() ?? [];
    return { rows, rowCount: rows.length || 1 };
  });
  const pool = { query, connect: async () => ({ query, release: () => undefined }) };
  return { pool: pool as unknown as Pool, calls };
}

describe('idempotency_keys.input', () => {
  const row = (stored: unknown) => ({
    tenant_id: 't1',
    idem_key: 'k',
    endpoint: 'POST /v1/inference',
    body_hash: 'h',
    request_id: 'req_1',
    state: 'pending',
    input: stored,
    response_status: null,
    response_body: null,
    created_at: new Date(),
  });

  test('bound sealed under the active key; read back under the old key and from clear rows', async () => {
    const { pool, calls } = fakePool([[], [row(await old.seal(input))], [row(input)]]);
    const store = new IdempotencyStore(pool, 60, rotated);
    await store.insertPending({ tenantId: 't1', key: 'k', endpoint: 'e', bodyHash: 'h', input });
    const written = calls[0]!.values[5];
    expect(JSON.stringify(written)).not.toContain(SECRET);
    expect(keyIdOf(written)).toBe('k2');
    expect((await store.find('t1', 'k'))?.input).toEqual(input);
    expect((await store.find('t1', 'k'))?.input).toEqual(input);
  });

  test('a rebind seals the new input too', async () => {
    const { pool, calls } = fakePool();
    await new IdempotencyStore(pool, 60, rotated).rebind('t1', 'k', 'req_0', input);
    expect(JSON.stringify(calls[0]!.values)).not.toContain(SECRET);
  });
});

describe('responses.request', () => {
  const stored: StoredResponseRequest = {
    instructions: SECRET,
    input: [
      {
        id: 'msg_1',
        type: 'message',
        role: 'user',
        status: 'completed',
        content: [{ type: 'input_text', text: SECRET }],
      },
    ],
    max_output_tokens: null,
    temperature: null,
    top_p: null,
  };
  const row = (request: unknown) => ({
    request_id: 'req_1',
    model: 'm',
    background: true,
    store: true,
    request,
    metadata: {},
    created_at: new Date(),
  });

  test('instructions and input written sealed; read under the old key and from clear rows; store:false keeps none', async () => {
    const { pool, calls } = fakePool([[], [], [row(await old.seal(stored))], [row(stored)]]);
    const repo = new ResponsesRepo(pool, rotated);
    const fields = {
      id: 'req_1',
      tenantId: 't1',
      model: 'm',
      background: true,
      metadata: {},
      createdAt: new Date(),
    };
    await repo.insert({ ...fields, store: true, request: stored });
    const written = JSON.parse(calls[0]!.values[5] as string) as unknown;
    expect(JSON.stringify(written)).not.toContain(SECRET);
    expect(keyIdOf(written)).toBe('k2');
    await repo.insert({ ...fields, store: false, request: stored });
    expect(calls[1]!.values[5]).toBeNull();
    expect((await repo.get('req_1', 't1'))?.request).toEqual(stored);
    expect((await repo.get('req_1', 't1'))?.request).toEqual(stored);
  });
});

describe('batch_items.input and batch results', () => {
  test('items stored sealed; a page opens old-key and clear rows; results open sealed outputs and errors', async () => {
    // create: BEGIN, the batch, its items, its totals, COMMIT.
    const { pool, calls } = fakePool([
      [],
      [],
      [],
      [],
      [],
      [
        { idx: 0, input: await old.seal(input), bytes: 10 },
        { idx: 1, input, bytes: 10 },
      ],
      [
        {
          idx: 0,
          custom_id: 'a',
          request_id: 'r0',
          state: 'failed',
          output: null,
          output_sealed: await old.sealOrSkip('sealed out'),
          total_tokens: null,
          error_type: 't',
          error_message: null,
          error_message_sealed: await old.sealOrSkip('sealed error'),
        },
        {
          idx: 1,
          custom_id: 'b',
          request_id: 'r1',
          state: 'completed',
          output: 'clear out',
          output_sealed: null,
          total_tokens: null,
          error_type: null,
          error_message: null,
          error_message_sealed: null,
        },
      ],
    ]);
    const repo = new BatchRepo(pool, rotated);
    await repo.create({ id: 'b1', tenantId: 't1', concurrency: 1, items: [{ customId: 'a', input }] });
    const insert = calls.find((c) => c.text.includes('INSERT INTO batch_items'))!;
    const [stored] = insert.values[4] as string[];
    expect(stored).not.toContain(SECRET);
    expect(keyIdOf(JSON.parse(stored!))).toBe('k2');
    expect((await repo.page('b1', 0, 10, 1e6)).map((i) => i.input)).toEqual([input, input]);
    const lines = (await repo.results('b1', -1, 10)).map((r) => r.line);
    expect(lines.map((l) => l.output)).toEqual(['sealed out', 'clear out']);
    expect(lines.map((l) => l.error)).toEqual([{ type: 't', message: 'sealed error' }, null]);
  });
});

describe('requests output', () => {
  const row = (output: string | null, sealed: unknown, errors: Record<string, unknown> = {}) => ({
    id: 'req_1',
    tenant_id: 't1',
    model: 'm',
    status: 'completed',
    max_tokens: 8,
    prompt_tokens: 4,
    estimated_tokens: 12,
    completion_tokens: 2,
    total_tokens: 6,
    output,
    output_sealed: sealed,
    finish_reason: 'stop',
    attempts: 1,
    last_error: null,
    error_type: null,
    error_message: null,
    accepted_at: new Date(),
    created_at: new Date(),
    started_at: null,
    completed_at: null,
    last_error_sealed: null,
    error_message_sealed: null,
    ...errors,
  });
  const usage = { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 };

  test('result and partial output written sealed (output NULL); rows read under the old key and in clear', async () => {
    const { pool, calls } = fakePool([
      [],
      [],
      [row(null, await old.sealOrSkip('the answer'))],
      [row('legacy', null)],
    ]);
    const repo = new RequestsRepo(pool, rotated);
    await repo.recordResult(input, { text: 'the answer', usage, finishReason: 'stop' });
    await repo.recordPartial('req_1', 1, 'the ans', 1, 'cancelled');
    for (const c of calls.slice(0, 2)) {
      expect(JSON.stringify(c.values)).not.toContain('the an');
      expect(c.values).toContainEqual(null);
    }
    expect(keyIdOf(calls[0]!.values[9])).toBe('k2');
    expect((await repo.get('req_1', 't1'))?.output).toBe('the answer');
    expect((await repo.get('req_1', 't1'))?.output).toBe('legacy');
  });

  test('error messages (which may quote the prompt) written sealed; read under the old key and in clear', async () => {
    const { pool, calls } = fakePool([
      [],
      [],
      [
        row(null, null, {
          error_type: 'model_invalid_request',
          last_error_sealed: await old.sealOrSkip(`retry: ${SECRET}`),
          error_message_sealed: await old.sealOrSkip(`failed: ${SECRET}`),
        }),
      ],
      [row(null, null, { error_type: 'x', error_message: 'legacy message', last_error: 'legacy last' })],
    ]);
    const repo = new RequestsRepo(pool, rotated);
    await repo.recordAttemptError('req_1', 1, `upstream said: ${SECRET}`);
    await repo.finish('req_1', 'failed', {
      type: 'model_invalid_request',
      message: `upstream said: ${SECRET}`,
    });
    for (const c of calls.slice(0, 2)) expect(JSON.stringify(c.values)).not.toContain(SECRET);
    expect(await repo.get('req_1', 't1')).toMatchObject({
      lastError: `retry: ${SECRET}`,
      error: { type: 'model_invalid_request', message: `failed: ${SECRET}` },
    });
    expect(await repo.get('req_1', 't1')).toMatchObject({
      lastError: 'legacy last',
      error: { type: 'x', message: 'legacy message' },
    });
  });

  test('with encryption off the output is written in clear', async () => {
    const { pool, calls } = fakePool();
    const off = sealerOf({ PAYLOAD_KEYS: `k1:${k1}`, PAYLOAD_ENCRYPTION: 'off' });
    await new RequestsRepo(pool, off).recordResult(input, {
      text: 'the answer',
      usage,
      finishReason: 'stop',
    });
    expect(calls[0]!.values[1]).toBe('the answer');
    expect(calls[0]!.values[9]).toBeNull();
  });
});

describe('webhook_deliveries.payload', () => {
  const payload = {
    type: 'inference.failed',
    data: { id: 'req_1', status: 'failed', error: { type: 'model_invalid_request', message: SECRET } },
  };
  const delivery = { id: 'whk-1', requestId: 'req_1', tenantId: 't1', endpointId: 'req', url: 'https://x' };
  const row = (stored: unknown) => ({
    id: 'whk-1',
    url: 'https://x',
    payload: stored,
    secret: 's',
    delivered_at: null,
  });

  test('recorded sealed under the active key; sent from old-key and clear rows alike', async () => {
    const { pool, calls } = fakePool([[], [row(await old.seal(payload))], [row(payload)]]);
    const repo = new WebhooksRepo(pool, rotated);
    await repo.createDelivery({ ...delivery, event: 'failed', payload });
    const stored = calls[0]!.values[6] as string;
    expect(stored).not.toContain(SECRET);
    expect(keyIdOf(JSON.parse(stored))).toBe('k2');
    expect((await repo.deliveryToSend('whk-1'))?.payload).toEqual(payload);
    expect((await repo.deliveryToSend('whk-1'))?.payload).toEqual(payload);
  });
});

describe('Redis token streams', () => {
  /** A Redis that keeps XADDs of one stream and answers XREAD with them. */
  function fakeRedis() {
    const entries: [string, string[]][] = [];
    const pipe = {
      xadd: (_key: string, ...args: (string | number)[]) => {
        entries.push([`${entries.length + 1}-0`, args.slice(-2).map(String)]);
        return pipe;
      },
      expire: () => pipe,
      exec: async () => [],
    };
    const redis = {
      on: () => undefined,
      pipeline: () => pipe,
      call: async () => [['k', entries]],
    };
    return { redis: redis as unknown as Redis, entries };
  }

  test('text entries sealed under the active key, one seal per write; old-key and clear entries read', async () => {
    const { redis, entries } = fakeRedis();
    const before = new TokenRelay({ redis, prefix: 'p', retentionS: 60, sealer: old });
    await before.append('req_1', [{ type: 'text', attempt: 1, text: 'old words' }]);
    // A write of the previous version: every event in clear.
    entries.push(['9-0', ['e', JSON.stringify({ type: 'text', attempt: 1, text: 'legacy words' })]]);
    const relay = new TokenRelay({ redis, prefix: 'p', retentionS: 60, sealer: rotated });
    const events: RelayEvent[] = [
      { type: 'attempt', attempt: 1 },
      { type: 'text', attempt: 1, text: 'secret output' },
      { type: 'end', attempt: 1, finishReason: 'stop' },
    ];
    await relay.append('req_1', events);
    const written = entries.slice(2);
    expect(written.map(([, f]) => f[0])).toEqual(['e', 's', 'e']);
    expect(JSON.stringify(entries)).not.toMatch(/secret output|old words/);
    expect(keyIdOf(JSON.parse(written[1]![1][1]!))).toBe('k2');
    expect((await relay.read('req_1', '0-0')).map((e) => e.event)).toEqual([
      { type: 'text', attempt: 1, text: 'old words' },
      { type: 'text', attempt: 1, text: 'legacy words' },
      ...events,
    ]);
  });
});

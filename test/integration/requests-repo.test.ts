import { randomBytes } from 'node:crypto';
import { CLEAR_AT_REST } from '../../src/codec/at-rest-sealer';
import { createPool } from '../../src/db/pool';
import { RequestsRepo } from '../../src/requests/requests-repo';
import { TenantsRepo } from '../../src/tenants/tenants-repo';
import { WebhooksRepo } from '../../src/webhooks/webhooks-repo';
import type { InferenceInput } from '../../src/shared/types';

/**
 * The completion's record against real PostgreSQL: output, usage and the ledger row land together
 * (one statement), once, and never on a request that already ended; a terminal update reads the
 * webhook targets of its event in the same statement; a status read carries the webhook deliveries.
 */
const pool = createPool({ connectionString: process.env.TEST_DATABASE_URL!, max: 2 });
const repo = new RequestsRepo(pool, CLEAR_AT_REST);
const webhooks = new WebhooksRepo(pool, CLEAR_AT_REST);
const tenantId = `repo-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  await new TenantsRepo(pool).ensure({ id: tenantId, name: 'repo test', tier: 'free' });
});
afterAll(async () => {
  await pool.end();
});

function input(): InferenceInput {
  return {
    requestId: `inf_repo${randomBytes(8).toString('hex')}`,
    tenantId,
    model: 'ref-small',
    prompt: 'hi',
    maxTokens: 16,
    promptTokens: 3,
    estimatedTokens: 19,
    acceptedAt: new Date().toISOString(),
    deadlineAt: new Date(Date.now() + 60_000).toISOString(),
    gpuTaskQueue: 'gpu-ref',
    modelCall: { timeoutMs: 1000, maxAttempts: 1 },
    priority: { priorityKey: 3, fairnessKey: tenantId },
  };
}

const result = {
  text: 'hello',
  finishReason: 'stop',
  usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 },
};

async function state(id: string) {
  const { rows } = await pool.query<{ status: string; output: string | null; total_tokens: number | null }>(
    'SELECT status, output, total_tokens FROM requests WHERE id = $1',
    [id],
  );
  const ledger = await pool.query<{ total_tokens: number; window_at: Date }>(
    'SELECT total_tokens, window_at FROM usage_ledger WHERE request_id = $1',
    [id],
  );
  return { row: rows[0], ledger: ledger.rows };
}

test('recordResult stores output and usage and writes one ledger row; a repeat adds nothing', async () => {
  const i = input();
  await repo.insertQueued(i);
  await repo.recordResult(i, result);
  await repo.recordResult(i, result);
  const s = await state(i.requestId);
  expect(s.row).toEqual({ status: 'queued', output: 'hello', total_tokens: 8 });
  expect(s.ledger).toEqual([{ total_tokens: 8, window_at: new Date(i.acceptedAt) }]);
  await repo.markCompleted(i.requestId);
  expect((await state(i.requestId)).row?.status).toBe('completed');
});

test('recordResult leaves a request that already ended as it was', async () => {
  const i = input();
  await repo.insertQueued(i);
  await repo.finish(i.requestId, 'cancelled', { type: 'cancelled', message: 'request cancelled' });
  await repo.recordResult(i, result);
  const s = await state(i.requestId);
  expect(s.row).toEqual({ status: 'cancelled', output: null, total_tokens: null });
});

test('recordResult of an unknown request fails and writes nothing', async () => {
  const i = input();
  await expect(repo.recordResult(i, result)).rejects.toThrow(/foreign key/);
  expect((await state(i.requestId)).ledger).toEqual([]);
});

describe('terminal updates read their webhook targets', () => {
  // One tenant of its own: its endpoints are the only ones these tests see.
  const hooked = `hook-${randomBytes(3).toString('hex')}`;
  let onCompleted: string;
  let onFailed: string;
  beforeAll(async () => {
    await new TenantsRepo(pool).ensure({ id: hooked, name: 'hooks', tier: 'free' });
    onCompleted = (
      await webhooks.createEndpoint(hooked, 'https://a.example/hook', ['completed', 'cancelled'])
    ).id;
    onFailed = (await webhooks.createEndpoint(hooked, 'https://b.example/hook', ['failed'])).id;
  });
  const hookedInput = () => ({ ...input(), tenantId: hooked });

  test('markCompleted moves the status and returns the request URL and the endpoints of `completed`', async () => {
    const i = hookedInput();
    await repo.insertQueued(i);
    await webhooks.setRequestTarget(i.requestId, hooked, 'https://own.example/cb', ['completed']);
    await repo.recordResult(i, result);
    const targets = await repo.markCompleted(i.requestId, { tenantId: hooked });
    expect((await state(i.requestId)).row?.status).toBe('completed');
    expect(targets).toEqual([
      { endpointId: 'req', url: 'https://own.example/cb' },
      { endpointId: onCompleted, url: 'https://a.example/hook' },
    ]);
    // A retry after the status moved still finds them (its deliveries are created idempotently).
    expect(await repo.markCompleted(i.requestId, { tenantId: hooked })).toEqual(targets);
  });

  test('finish returns the targets of its own status, and none without targetsOf', async () => {
    const failed = hookedInput();
    await repo.insertQueued(failed);
    const targets = await repo.finish(
      failed.requestId,
      'failed',
      { type: 'model_error', message: 'boom' },
      { tenantId: hooked },
    );
    expect(targets).toEqual([{ endpointId: onFailed, url: 'https://b.example/hook' }]);
    expect((await state(failed.requestId)).row?.status).toBe('failed');

    const cancelled = hookedInput();
    await repo.insertQueued(cancelled);
    expect(await repo.finish(cancelled.requestId, 'cancelled', { type: 'cancelled', message: 'c' })).toEqual(
      [],
    );
    expect((await state(cancelled.requestId)).row?.status).toBe('cancelled');
  });

  test('getWithDeliveries: none while running, then the deliveries with their attempts; another tenant sees nothing', async () => {
    const i = hookedInput();
    await repo.insertQueued(i);
    expect((await repo.getWithDeliveries(i.requestId, hooked))?.deliveries).toEqual([]);
    await repo.recordResult(i, result);
    await repo.markCompleted(i.requestId);
    const id = `whk-${i.requestId}-completed-${onCompleted}`;
    await webhooks.createDelivery({
      id,
      requestId: i.requestId,
      tenantId: hooked,
      endpointId: onCompleted,
      url: 'https://a.example/hook',
      event: 'completed',
      payload: { type: 'inference.completed' },
    });
    await webhooks.recordAttempt(id, 1, { statusCode: 500, durationMs: 12, error: 'HTTP 500' });
    await webhooks.recordAttempt(id, 2, { statusCode: 200, durationMs: 7 });
    await webhooks.markDelivered(id);

    const found = await repo.getWithDeliveries(i.requestId, hooked);
    expect(found?.record).toEqual(await repo.get(i.requestId, hooked));
    expect(found?.record.status).toBe('completed');
    expect(found?.deliveries).toEqual([
      {
        id,
        url: 'https://a.example/hook',
        event: 'completed',
        delivered_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        attempts: [
          { attempt: 1, at: expect.any(String), status_code: 500, duration_ms: 12, error: 'HTTP 500' },
          { attempt: 2, at: expect.any(String), status_code: 200, duration_ms: 7, error: null },
        ],
      },
    ]);
    expect(await repo.getWithDeliveries(i.requestId, tenantId)).toBeUndefined();
  });
});

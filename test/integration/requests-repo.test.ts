import { randomBytes } from 'node:crypto';
import { createPool } from '../../src/db/pool';
import { RequestsRepo } from '../../src/requests/requests-repo';
import { TenantsRepo } from '../../src/tenants/tenants-repo';
import type { InferenceInput } from '../../src/shared/types';

/**
 * The completion's record against real PostgreSQL: output, usage and the ledger row land together
 * (one statement), once, and never on a request that already ended.
 */
const pool = createPool({ connectionString: process.env.TEST_DATABASE_URL!, max: 2 });
const repo = new RequestsRepo(pool);
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

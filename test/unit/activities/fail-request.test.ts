import { UnknownTenantError } from '../../../src/quota/quota-store';
import { inferenceInput } from '../../support/inference-input';
import { orchestrationSetup } from './orchestration-fakes';

/**
 * failRequest's settling, in a MockActivityEnvironment over fakes: what the tenant is charged when a
 * request ends without a result (produced tokens committed, otherwise the reservation released), that
 * the quota is settled before the status moves, and that a retry charges and counts nothing twice.
 */
const input = () => inferenceInput('gpu', { estimatedTokens: 21 });
const produced = { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 };

test('cancelled after producing output: prompt + produced tokens are committed, then the status moves', async () => {
  const f = orchestrationSetup({ partial: produced });
  const inp = input();
  await f.failRequest(inp, 'cancelled', 'cancelled');
  expect(f.journal).toEqual([
    'chargePartial',
    'commit 12',
    'finish cancelled',
    'announce cancelled',
    'webhook cancelled',
  ]);
  expect(f.settled.get(inp.requestId)).toEqual({ as: 'committed', tokens: 12 });
  expect(f.refs[0]).toEqual({
    requestId: inp.requestId,
    tenantId: inp.tenantId,
    acceptedAt: new Date(inp.acceptedAt),
  });
  expect(f.ends[0]).toMatchObject({ status: 'cancelled', usage: produced });
  expect(await f.tokensCharged()).toEqual({ prompt: 5, completion: 7 });
  expect(await f.finished()).toEqual({ cancelled: 1 });
});

test("a batch line its batch's expiry stopped is charged nothing, though it produced output", async () => {
  const f = orchestrationSetup({ partial: produced, expiredBatchLine: true });
  const inp = input();
  await f.failRequest(inp, 'cancelled', 'cancelled');
  expect(f.journal).toEqual(['release', 'finish cancelled', 'announce cancelled', 'webhook cancelled']);
  expect(f.settled.get(inp.requestId)).toEqual({ as: 'released' });
  expect(await f.tokensCharged()).toEqual({});
});

test('failed without output: the reservation is released and nothing is charged', async () => {
  const f = orchestrationSetup();
  const inp = input();
  await f.failRequest(inp, 'failed', 'model_unavailable');
  expect(f.journal).toEqual([
    'chargePartial',
    'release',
    'finish failed',
    'announce failed',
    'webhook failed',
  ]);
  expect(f.settled.get(inp.requestId)).toEqual({ as: 'released' });
  expect(f.ends[0]).not.toHaveProperty('usage');
  expect(await f.tokensCharged()).toEqual({});
  expect(await f.finished()).toEqual({ failed: 1 });
});

test('rejected: released without looking for produced output (no model call ran)', async () => {
  const f = orchestrationSetup({ partial: produced });
  const inp = input();
  await f.failRequest(inp, 'rejected', 'quota_exceeded');
  expect(f.journal).not.toContain('chargePartial');
  expect(f.settled.get(inp.requestId)).toEqual({ as: 'released' });
  expect(await f.tokensCharged()).toEqual({});
});

test('a retry charges the same tokens, which the quota ignores, and counts nothing twice', async () => {
  const f = orchestrationSetup({ partial: produced });
  const inp = input();
  await f.failRequest(inp, 'cancelled', 'cancelled');
  await f.failRequest(inp, 'cancelled', 'cancelled');
  expect(f.journal.filter((e) => e.startsWith('commit'))).toEqual(['commit 12', 'commit 12']);
  expect(f.settled.get(inp.requestId)).toEqual({ as: 'committed', tokens: 12 });
  expect(await f.tokensCharged()).toEqual({ prompt: 5, completion: 7 });
  expect(await f.finished()).toEqual({ cancelled: 1 });
});

test('after a completion it changes no charge and counts nothing', async () => {
  const f = orchestrationSetup();
  const inp = input();
  const result = { text: 'done', usage: produced, finishReason: 'stop', usageReported: true };
  await f.completeRequest(inp, result);
  await f.failRequest(inp, 'failed', 'internal_error');
  expect(f.settled.get(inp.requestId)).toEqual({ as: 'committed', tokens: 12 });
  expect(await f.finished()).toEqual({ completed: 1 });
});

test('a tenant deleted meanwhile holds no quota: the status still moves, nothing is counted', async () => {
  const f = orchestrationSetup({ partial: produced, failing: { commit: new UnknownTenantError('acme') } });
  await f.failRequest(input(), 'cancelled', 'cancelled');
  expect(f.journal).toEqual(['chargePartial', 'finish cancelled', 'announce cancelled', 'webhook cancelled']);
  expect(await f.finished()).toEqual({});
  expect(await f.tokensCharged()).toEqual({});
});

test('quota store down: the activity fails (retried) before the status moves', async () => {
  const down = new Error('Connection is closed.');
  const f = orchestrationSetup({ failing: { release: down } });
  await expect(f.failRequest(input(), 'failed')).rejects.toBe(down);
  expect(f.journal).toEqual(['chargePartial']);
  expect(await f.finished()).toEqual({});
});

test('the relay announcement is best effort; a webhook failure fails the activity after the status moved', async () => {
  const hook = new Error('webhook row insert failed');
  const f = orchestrationSetup({ failing: { announce: new Error('redis down'), webhook: hook } });
  const inp = input();
  await expect(f.failRequest(inp, 'failed')).rejects.toBe(hook);
  expect(f.journal).toEqual(['chargePartial', 'release', 'finish failed']);
  expect(f.settled.get(inp.requestId)).toEqual({ as: 'released' });
});

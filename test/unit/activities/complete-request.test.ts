import { inferenceInput } from '../../support/inference-input';
import { orchestrationSetup } from './orchestration-fakes';

/**
 * completeRequest (recordResult then commitUsage, one local activity) in a MockActivityEnvironment
 * over fakes: the actual tokens replace the reservation, in an order that never shows `completed`
 * before the charge, and a retry after a crash anywhere charges and counts nothing twice.
 */
const input = () => inferenceInput('gpu', { estimatedTokens: 40 });
const result = {
  text: 'an answer',
  usage: { prompt_tokens: 5, completion_tokens: 15, total_tokens: 20 },
  finishReason: 'stop',
  usageReported: true,
};

test('records the result, commits the actual tokens, then moves the status and notifies', async () => {
  const f = orchestrationSetup();
  const inp = input();
  await f.completeRequest(inp, result);
  expect(f.journal).toEqual([
    'recordResult an answer',
    'commit 20',
    'markCompleted',
    'announce completed',
    'webhook completed',
  ]);
  expect(f.settled.get(inp.requestId)).toEqual({ as: 'committed', tokens: 20 });
  expect(f.refs[0]).toEqual({
    requestId: inp.requestId,
    tenantId: inp.tenantId,
    acceptedAt: new Date(inp.acceptedAt),
  });
  expect(f.ends[0]).toEqual({ status: 'completed', usage: result.usage });
  expect(await f.tokensCharged()).toEqual({ prompt: 5, completion: 15 });
  expect(await f.finished()).toEqual({ completed: 1 });
});

test('a retry repeats every step, but the quota ignores the second commit and nothing is counted twice', async () => {
  const f = orchestrationSetup();
  const inp = input();
  await f.completeRequest(inp, result);
  await f.completeRequest(inp, result);
  expect(f.journal.filter((e) => e.startsWith('commit'))).toEqual(['commit 20', 'commit 20']);
  expect(f.settled.get(inp.requestId)).toEqual({ as: 'committed', tokens: 20 });
  expect(await f.tokensCharged()).toEqual({ prompt: 5, completion: 15 });
  expect(await f.finished()).toEqual({ completed: 1 });
});

test('the result not recorded (PostgreSQL down): nothing is charged and the activity fails (retried)', async () => {
  const down = new Error('connect ECONNREFUSED');
  const f = orchestrationSetup({ failing: { recordResult: down } });
  const inp = input();
  await expect(f.completeRequest(inp, result)).rejects.toBe(down);
  expect(f.journal).toEqual([]);
  expect(f.settled.has(inp.requestId)).toBe(false);
});

test('the quota commit failing leaves the status running; the retry then completes it', async () => {
  const down = new Error('Connection is closed.');
  const failing = { commit: down as Error | undefined };
  const f = orchestrationSetup({ failing });
  const inp = input();
  await expect(f.completeRequest(inp, result)).rejects.toBe(down);
  expect(f.journal).toEqual(['recordResult an answer']);
  failing.commit = undefined; // Redis is back
  await f.completeRequest(inp, result);
  expect(f.journal.slice(1)).toEqual([
    'recordResult an answer',
    'commit 20',
    'markCompleted',
    'announce completed',
    'webhook completed',
  ]);
  expect(f.settled.get(inp.requestId)).toEqual({ as: 'committed', tokens: 20 });
  expect(await f.finished()).toEqual({ completed: 1 });
});

import { ActivityCancellationDetails, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { HEARTBEAT_EVERY_MS } from '../../../activities/gpu-activities';
import { ErrorType } from '../../../src/shared/error-types';
import { inferenceInput } from '../../support/inference-input';
import { gpuSetup, nextHeartbeat, resultOf, stream, untilAborted } from './gpu-fakes';

/**
 * callModel's outcomes in a MockActivityEnvironment with a scripted adapter and a recording requests
 * repo: what it returns or throws (and so whether Temporal retries), what it heartbeats, and which
 * output it keeps for the workflow to charge. Attempts and the attempt mark are in
 * call-model-attempts.test.ts.
 */
const input = () => inferenceInput('gpu', { model: 'm' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('success: returns the result, heartbeats the tokens so far, keeps no partial and stops heartbeating', async () => {
  const s = gpuSetup(async (o) => {
    stream(o, ['Hello ', 'there ', 'world']);
    await nextHeartbeat(s.env); // the ticker reports while the call runs, not only at the end
    return resultOf('Hello there world');
  });
  const inp = input();
  await expect(s.call(inp)).resolves.toEqual(resultOf('Hello there world'));
  expect(s.heartbeats[0]).toEqual({ tokens: 3, output: 'Hello there world' });
  expect(s.calls).toEqual([
    ['markAttempt', inp.requestId, 1],
    ['marked', inp.requestId, 1],
  ]);
  expect(await s.outcomes()).toEqual({ ok: 1 });
  expect(await s.inFlight()).toBe(0);
  const beats = s.heartbeats.length;
  await sleep(HEARTBEAT_EVERY_MS * 2);
  expect(s.heartbeats).toHaveLength(beats); // the ticker died with the call
});

test('an unknown model fails at once, non-retryable, without marking an attempt', async () => {
  const s = gpuSetup(async () => resultOf('never'));
  const err = await s.call({ ...input(), model: 'other' }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect(err).toMatchObject({ type: ErrorType.ModelInvalidRequest, nonRetryable: true });
  expect(s.calls).toEqual([]);
});

test('cancelled mid-stream: the abort reaches the call, the output so far is kept as cancelled, the cancel is rethrown', async () => {
  const s = gpuSetup(async (o) => {
    stream(o, ['Hello ', 'world']);
    await nextHeartbeat(s.env);
    s.env.cancel(); // what a workflow's cancel delivers with the next heartbeat response
    return untilAborted(o.signal);
  });
  const inp = input();
  const err = await s.call(inp).catch((e: unknown) => e);
  // The SDK's CancelledFailure itself, so the task is reported cancelled (not a failure to retry).
  expect(err).toBeInstanceOf(CancelledFailure);
  expect(s.heartbeats[0]).toEqual({ tokens: 2, output: 'Hello world' });
  expect(s.calls).toEqual([
    ['markAttempt', inp.requestId, 1],
    ['marked', inp.requestId, 1],
    ['recordPartial', inp.requestId, 1, 'Hello world', 2, 'cancelled'],
    ['recordAttemptError', inp.requestId, 1, expect.any(String)],
  ]);
  expect(await s.outcomes()).toEqual({ cancelled: 1 });
  expect(await s.inFlight()).toBe(0);
});

test('cancelled before any output: nothing is kept, so nothing can be charged', async () => {
  const s = gpuSetup(async (o) => {
    setImmediate(() => s.env.cancel());
    return untilAborted(o.signal);
  });
  const inp = input();
  await expect(s.call(inp)).rejects.toBeInstanceOf(CancelledFailure);
  expect(s.calls.map((c) => c[0])).toEqual(['markAttempt', 'marked', 'recordAttemptError']);
});

test('drained (worker shutdown): the call is aborted and handed back whole, its output is not kept', async () => {
  const s = gpuSetup(async (o) => {
    stream(o, ['Hello ', 'world']);
    // What the worker does to running activities once GPU_DRAIN_GRACE_S is over after SIGTERM.
    setImmediate(() =>
      s.env.cancel('WORKER_SHUTDOWN', new ActivityCancellationDetails({ workerShutdown: true })),
    );
    return untilAborted(o.signal);
  });
  const inp = input();
  const err = await s.call(inp).catch((e: unknown) => e);
  // Rethrown as is: the task fails and Temporal retries it on another worker (not a non-retryable failure).
  expect(err).toBeInstanceOf(CancelledFailure);
  expect(err).toMatchObject({ message: 'WORKER_SHUTDOWN' });
  expect(s.calls.map((c) => c[0])).toEqual(['markAttempt', 'marked', 'recordAttemptError']);
  expect(await s.outcomes()).toEqual({ drained: 1 });
});

test('past the deadline: aborted a margin before it, fails non-retryable model_timeout, output kept as timeout', async () => {
  const s = gpuSetup(async (o) => {
    stream(o, ['partial ', 'answer']);
    return untilAborted(o.signal);
  });
  // The call gives up DEADLINE_MARGIN_MS (1 s) before the deadline: here about 100 ms from now.
  const inp = { ...input(), deadlineAt: new Date(Date.now() + 1100).toISOString() };
  const started = Date.now();
  const err = await s.call(inp).catch((e: unknown) => e);
  expect(Date.now() - started).toBeLessThan(900);
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect(err).toMatchObject({ type: ErrorType.ModelTimeout, nonRetryable: true });
  expect(s.calls).toContainEqual(['recordPartial', inp.requestId, 1, 'partial answer', 2, 'timeout']);
  expect(await s.outcomes()).toEqual({ [ErrorType.ModelTimeout]: 1 });
});

test('a deadline already past aborts the call at once', async () => {
  const s = gpuSetup(async (o) => untilAborted(o.signal));
  const inp = { ...input(), deadlineAt: new Date(Date.now() - 5000).toISOString() };
  await expect(s.call(inp)).rejects.toMatchObject({
    type: ErrorType.ModelTimeout,
    nonRetryable: true,
  });
  expect(s.calls.map((c) => c[0])).not.toContain('recordPartial');
});

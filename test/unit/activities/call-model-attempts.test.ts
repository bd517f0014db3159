import { ApplicationFailure } from '@temporalio/common';
import { ModelCallError } from '../../../src/models/model-call-error';
import { ErrorType } from '../../../src/shared/error-types';
import { inferenceInput } from '../../support/inference-input';
import { gpuSetup, nextHeartbeat, resultOf, stream } from './gpu-fakes';

/**
 * callModel across attempts: which attempt its writes name (the repo keeps only the current
 * attempt's partial output, and a later attempt's mark drops it), how a model error becomes a
 * retryable failure with its Retry-After, and the attempt mark in PostgreSQL failing for a while or
 * for good.
 */
const input = () => inferenceInput('gpu', { model: 'm' });
const pgDown = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

test('a later attempt marks and keeps its partial output under its own number, and heartbeats its own tokens', async () => {
  const s = gpuSetup(
    async (o) => {
      stream(o, ['second ', 'try']);
      await nextHeartbeat(s.env);
      throw new ModelCallError(ErrorType.ModelOverloaded, 'busy', true, { status: 503, retryAfterMs: 1500 });
    },
    // Attempt 2 heartbeated 40 tokens (and no output) before it died: nothing to continue, and its
    // output is dropped by this attempt's mark.
    { info: { attempt: 3, heartbeatDetails: { tokens: 40 } } },
  );
  const inp = input();
  const err = await s.call(inp).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  // Retryable, after the delay the service asked for.
  expect(err).toMatchObject({ type: ErrorType.ModelOverloaded, nonRetryable: false, nextRetryDelay: 1500 });
  expect(s.heartbeats[0]).toEqual({ tokens: 2, output: 'second try' });
  expect(s.calls).toEqual([
    ['markAttempt', inp.requestId, 3],
    ['marked', inp.requestId, 3],
    ['recordPartial', inp.requestId, 3, 'second try', 2, 'error'],
    ['recordAttemptError', inp.requestId, 3, 'busy'],
  ]);
  expect(await s.outcomes()).toEqual({ [ErrorType.ModelOverloaded]: 1 });
});

test('a mark slower than the call is awaited before the partial output is written, so it cannot clear it', async () => {
  const s = gpuSetup(
    async (o) => {
      stream(o, ['fast']);
      throw new ModelCallError(ErrorType.ModelUnavailable, 'reset', true);
    },
    { markAttempt: () => new Promise((r) => setTimeout(r, 50)) },
  );
  const inp = input();
  await expect(s.call(inp)).rejects.toMatchObject({
    type: ErrorType.ModelUnavailable,
    nonRetryable: false,
  });
  expect(s.calls.map((c) => c[0])).toEqual(['markAttempt', 'marked', 'recordPartial', 'recordAttemptError']);
});

test('an error that is not a classified model error fails retryable as internal_error', async () => {
  const s = gpuSetup(async () => {
    throw new TypeError('bad chunk');
  });
  await expect(s.call(input())).rejects.toMatchObject({
    type: ErrorType.Internal,
    nonRetryable: false,
    message: 'bad chunk',
  });
});

describe('the attempt mark failing (PostgreSQL down)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  test('a mark that fails a few times is retried and the call succeeds', async () => {
    const s = gpuSetup(async (o) => (stream(o, ['ok']), resultOf('ok')), {
      markAttempt: async (tryNo) => {
        if (tryNo <= 2) throw pgDown();
      },
    });
    const run = s.call(input());
    await jest.advanceTimersByTimeAsync(1000); // 250 ms + 500 ms between the tries
    await expect(run).resolves.toEqual(resultOf('ok'));
    expect(s.marks()).toBe(3);
  });

  test('a mark that keeps failing fails the attempt retryable after 6 tries, even though the model answered', async () => {
    const s = gpuSetup(async (o) => (stream(o, ['lost']), resultOf('lost')), {
      markAttempt: async () => {
        throw pgDown();
      },
    });
    const inp = input();
    const run = s.call(inp).catch((e: unknown) => e);
    await jest.advanceTimersByTimeAsync(4000);
    expect(s.marks()).toBe(5); // still trying: 250 + 500 + 1000 + 2000 ms so far
    await jest.advanceTimersByTimeAsync(2000);
    const err = await run;
    expect(s.marks()).toBe(6);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: ErrorType.Internal, nonRetryable: false, message: pgDown().message });
    expect(s.calls).toContainEqual(['recordAttemptError', inp.requestId, 1, pgDown().message]);
    expect(s.calls.map((c) => c[0])).not.toContain('marked');
  });
});

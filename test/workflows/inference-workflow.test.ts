import { randomUUID } from 'node:crypto';
import { ApplicationFailure, CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { GpuActivities, OrchestrationActivities } from '../../activities';
import { inferenceWorkflow } from '../../workflows';
import type { InferenceInput, ModelCallResult } from '../../src/shared/types';
import { inferenceInput } from '../support/inference-input';
import { temporalBinaries } from '../support/toolchain';
import { quietRuntime, registerSearchAttributes } from '../support/temporal';

quietRuntime();

let env: TestWorkflowEnvironment;
let workflowBundle: { code: string };

beforeAll(async () => {
  workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows') });
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: temporalBinaries().testServer } },
  });
  await registerSearchAttributes(env.connection);
}, 120_000);

afterAll(async () => {
  await env?.teardown();
});

const RESULT: ModelCallResult = {
  text: 'hello there',
  finishReason: 'length',
  usageReported: true,
  usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
};

/**
 * The two inputs the workflow runs today: `api` (a request the API admitted: it wrote the row and
 * reserved the quota before the start, `admittedAtAccept`) and `admit` (a batch item, or a request
 * whose row the API could not write: the workflow's first step admits it).
 */
type Shape = 'api' | 'admit';
const input = (gpuTaskQueue: string, shape: Shape): InferenceInput =>
  inferenceInput(gpuTaskQueue, shape === 'api' ? { admittedAtAccept: true } : {});

/** Records every orchestration call, in order, so tests can assert the saga. */
function stubOrchestration(calls: string[], admitted = true): OrchestrationActivities {
  return {
    admitRequest: async () => {
      calls.push('admit');
      return admitted
        ? { admitted: true }
        : {
            admitted: false,
            limit: 'tokens_per_day',
            limitValue: 10,
            remaining: 0,
            resetAt: 'x',
            retryAfterS: 1,
          };
    },
    // Retired with shape v2 (docs/operations.md): the workflow no longer calls these two.
    recordResult: async () => void calls.push('record (retired)'),
    commitUsage: async () => void calls.push('commit (retired)'),
    completeRequest: async (_i, r) => void calls.push(`record+commit:${r.usage.total_tokens}`),
    failRequest: async (_i, status, error) => void calls.push(`fail:${status}:${error.type}`),
  };
}

async function run(
  shape: Shape,
  gpu: GpuActivities['callModel'],
  calls: string[],
  opts: {
    admitted?: boolean;
    whileRunning?: (workflowId: string) => Promise<void>;
    orchestration?: OrchestrationActivities;
  } = {},
): Promise<unknown> {
  const { whileRunning, orchestration = stubOrchestration(calls, opts.admitted ?? true) } = opts;
  const orchQueue = `orch-${randomUUID()}`;
  const gpuQueue = `gpu-${randomUUID()}`;
  const orch = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: orchQueue,
    workflowBundle,
    activities: orchestration,
  });
  const gpuWorker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: gpuQueue,
    activities: { callModel: gpu },
    maxHeartbeatThrottleInterval: '100ms',
    defaultHeartbeatThrottleInterval: '100ms',
  });
  const i = input(gpuQueue, shape);
  return orch.runUntil(
    gpuWorker.runUntil(async () => {
      const handle = await env.client.workflow.start(inferenceWorkflow, {
        taskQueue: orchQueue,
        workflowId: i.requestId,
        args: [i],
      });
      await whileRunning?.(i.requestId);
      return handle.result();
    }),
  );
}

/** A model call that heartbeats until it is cancelled, then ends as `onCancel` says. */
function callUntilCancelled(
  started: () => void,
  onCancel: (e: unknown) => unknown = (e) => e,
): GpuActivities['callModel'] {
  return async () => {
    started();
    const ctx = Context.current();
    // A real call heartbeats; the cancel arrives with a heartbeat response.
    for (;;) {
      ctx.heartbeat();
      try {
        await ctx.sleep(100);
      } catch (e) {
        throw onCancel(e);
      }
    }
  };
}

const cancelWhenStarted =
  (callStarted: Promise<void>) =>
  async (id: string): Promise<void> => {
    await callStarted;
    await env.client.workflow.getHandle(id).cancel();
  };

async function startThenCancelBeforeAnyWorker(shape: Shape, calls: string[], admitted = true) {
  const orchQueue = `orch-${randomUUID()}`;
  const gpuQueue = `gpu-${randomUUID()}`;
  const i = input(gpuQueue, shape);
  // Started and cancelled before any worker polls: the first task sees the cancel.
  const handle = await env.client.workflow.start(inferenceWorkflow, {
    taskQueue: orchQueue,
    workflowId: i.requestId,
    args: [i],
  });
  await handle.cancel();
  let modelCalls = 0;
  const orch = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: orchQueue,
    workflowBundle,
    activities: stubOrchestration(calls, admitted),
  });
  const gpuWorker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: gpuQueue,
    activities: { callModel: async () => (modelCalls++, RESULT) },
  });
  const err = await orch.runUntil(gpuWorker.runUntil(handle.result())).catch((e: unknown) => e);
  return { err, modelCalls };
}

describe("today's shape: a request the API admitted (row written, quota reserved at accept)", () => {
  test('success: call the model, record the result and commit the actual usage in one step', async () => {
    const calls: string[] = [];
    const out = await run('api', async () => RESULT, calls);
    expect(out).toEqual({ status: 'completed', usage: RESULT.usage });
    expect(calls).toEqual(['record+commit:7']);
  });

  test('its history: one patch marker (lean-history), the status written once, at the end', async () => {
    let id = '';
    await run('api', async () => RESULT, [], { whileRunning: async (w) => void (id = w) });
    const events = (await env.client.workflow.getHandle(id).fetchHistory()).events ?? [];
    const patches = events.flatMap((e) => {
      const m = e.markerRecordedEventAttributes;
      if (m?.markerName !== 'core_patch') return [];
      return (m.details?.['patch-data']?.payloads ?? []).map((p) => Buffer.from(p.data!).toString('utf8'));
    });
    expect(patches).toEqual([JSON.stringify({ id: 'lean-history', deprecated: false })]);
    const upserts = events.filter((e) => e.upsertWorkflowSearchAttributesEventAttributes);
    const written = upserts.map((e) =>
      Object.keys(e.upsertWorkflowSearchAttributesEventAttributes!.searchAttributes?.indexedFields ?? {}),
    );
    // The core's TemporalChangeVersion with the marker, then InferenceStatus when the request ends.
    expect(written).toEqual([['TemporalChangeVersion'], ['InferenceStatus']]);
    expect(events).toHaveLength(15);
  });

  test('transient model failure is retried, then succeeds', async () => {
    const calls: string[] = [];
    let attempts = 0;
    const out = await run(
      'api',
      async () => {
        attempts++;
        if (attempts < 3) throw ApplicationFailure.retryable('upstream 503', 'model_overloaded');
        return RESULT;
      },
      calls,
    );
    expect(attempts).toBe(3);
    expect(out).toMatchObject({ status: 'completed' });
    expect(calls).toEqual(['record+commit:7']);
  });

  test('non-retryable model failure is not retried, fails the request, which settles the reservation', async () => {
    const calls: string[] = [];
    let attempts = 0;
    const err = await run(
      'api',
      async () => {
        attempts++;
        throw ApplicationFailure.nonRetryable('context length exceeded', 'model_invalid_request');
      },
      calls,
    ).catch((e: unknown) => e);
    expect(attempts).toBe(1);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe('model_invalid_request');
    expect(calls).toEqual(['fail:failed:model_invalid_request']);
  });

  test.each([
    // A type that never heals is not retried even when thrown as retryable.
    [
      'a type that never heals, thrown as retryable, is not retried',
      'bad prompt',
      'model_invalid_request',
      1,
    ],
    // Retries exhausted: the request fails, which settles the reservation.
    [
      'retries exhausted: the request fails, which settles the reservation',
      'connection refused',
      'model_unavailable',
      3,
    ],
  ])('%s', async (_name, message, type, expectedAttempts) => {
    const calls: string[] = [];
    let attempts = 0;
    await expect(
      run(
        'api',
        async () => {
          attempts++;
          throw ApplicationFailure.retryable(message, type);
        },
        calls,
      ),
    ).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(attempts).toBe(expectedAttempts);
    expect(calls).toEqual([`fail:failed:${type}`]);
  });

  test('cancellation during the model call: the call is cancelled, the request settled cancelled', async () => {
    const calls: string[] = [];
    let started!: () => void;
    const callStarted = new Promise<void>((r) => (started = r));
    let sawCancel = false;
    const err = await run(
      'api',
      callUntilCancelled(started, (e) => {
        sawCancel = Context.current().cancellationSignal.aborted;
        return e;
      }),
      calls,
      { whileRunning: cancelWhenStarted(callStarted) },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(sawCancel).toBe(true);
    expect(calls).toEqual(['fail:cancelled:cancelled']);
  });

  test('cancel wins over a call that then fails some other way (its worker died before acknowledging)', async () => {
    const calls: string[] = [];
    let started!: () => void;
    const callStarted = new Promise<void>((r) => (started = r));
    const err = await run(
      'api',
      // The cancel reached the call, which then ended with an error that is not a cancellation.
      callUntilCancelled(started, () =>
        ApplicationFailure.nonRetryable('connection reset', 'model_unavailable'),
      ),
      calls,
      { whileRunning: cancelWhenStarted(callStarted) },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(calls).toEqual(['fail:cancelled:cancelled']);
  });

  test('a cancel before the first workflow task settles it without calling the model', async () => {
    const calls: string[] = [];
    const { err, modelCalls } = await startThenCancelBeforeAnyWorker('api', calls);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(modelCalls).toBe(0);
    expect(calls).toEqual(['fail:cancelled:cancelled']);
  });
});

describe('admitted by the workflow (batch items; a request whose row the API could not write)', () => {
  test('success: admit, call the model, record and commit', async () => {
    const calls: string[] = [];
    const out = await run('admit', async () => RESULT, calls);
    expect(out).toEqual({ status: 'completed', usage: RESULT.usage });
    expect(calls).toEqual(['admit', 'record+commit:7']);
  });

  test('a model failure settles what the admit reserved', async () => {
    const calls: string[] = [];
    const err = await run(
      'admit',
      async () => {
        throw ApplicationFailure.nonRetryable('bad prompt', 'invalid_request_error');
      },
      calls,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(calls).toEqual(['admit', 'fail:failed:invalid_request_error']);
  });

  test('a request refused on admit is rejected without calling the model', async () => {
    const calls: string[] = [];
    let called = false;
    const out = await run(
      'admit',
      async () => {
        called = true;
        return RESULT;
      },
      calls,
      { admitted: false },
    );
    expect(called).toBe(false);
    expect(out).toMatchObject({ status: 'rejected', error: { type: 'quota_exceeded' } });
    expect(calls).toEqual(['admit', 'fail:rejected:quota_exceeded']);
  });

  test('a permanent admit error (unknown tenant) fails the request at once and settles it', async () => {
    const calls: string[] = [];
    const orchestration = stubOrchestration(calls);
    let admits = 0;
    orchestration.admitRequest = async () => {
      admits++;
      calls.push('admit');
      throw ApplicationFailure.nonRetryable('unknown tenant acme', 'invalid_request_error');
    };
    const err = await run('admit', async () => RESULT, calls, { orchestration }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe('invalid_request_error');
    expect(admits).toBe(1);
    expect(calls).toEqual(['admit', 'fail:failed:invalid_request_error']);
  });

  test('a cancel before the first workflow task still admits, then settles: nothing is left reserved', async () => {
    const calls: string[] = [];
    const { err, modelCalls } = await startThenCancelBeforeAnyWorker('admit', calls);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(modelCalls).toBe(0);
    expect(calls).toEqual(['admit', 'fail:cancelled:cancelled']);
  });
});

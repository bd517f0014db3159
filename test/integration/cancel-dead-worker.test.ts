import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Context } from '@temporalio/activity';
import { CancelledFailure, Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { OrchestrationActivities } from '../../activities';
import type { InferenceInput } from '../../src/shared/types';
import { inferenceWorkflow } from '../../workflows';
import { inferenceInput } from '../support/inference-input';

/**
 * A request cancelled during its model call, whose GPU worker dies before it acknowledges the cancel
 * (found by the chaos run): the real server times the call out by heartbeat and, the cancel having
 * been asked for, does not retry it. The request must end cancelled, not failed with model_timeout
 * (patch cancel-wins-over-call-failure). Stub activities; the real workflow on the real dev server.
 */
test('cancelled during the call, whose worker dies before acknowledging: the request ends cancelled', async () => {
  const address = process.env.TEST_TEMPORAL_ADDRESS!;
  const native = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const calls: string[] = [];
  const orchestration = {
    completeRequest: async () => void calls.push('complete'),
    failRequest: async (_i: InferenceInput, status: string, error: { type: string }) =>
      void calls.push(`fail:${status}:${error.type}`),
  } as unknown as OrchestrationActivities;
  let started!: () => void;
  const callStarted = new Promise<void>((r) => (started = r));
  const orchQueue = `orch-${randomUUID()}`;
  const gpuQueue = `gpu-${randomUUID()}`;
  const input = inferenceInput(gpuQueue, {
    acceptedAt: new Date().toISOString(),
    deadlineAt: new Date(Date.now() + 60_000).toISOString(),
    // Heartbeat timeout = min(timeoutMs, 10 s): 2 s here.
    modelCall: { timeoutMs: 2000, maxAttempts: 3 },
    admittedAtAccept: true,
  });
  const orch = await Worker.create({
    connection: native,
    taskQueue: orchQueue,
    workflowBundle: { code: readFileSync(process.env.TEST_WORKFLOW_BUNDLE!, 'utf8') },
    activities: orchestration,
  });
  const gpu = await Worker.create({
    connection: native,
    taskQueue: gpuQueue,
    activities: {
      // One heartbeat, then silence, as a worker killed mid-call: the cancel, delivered only with a
      // heartbeat response, never reaches it.
      callModel: async () => {
        const ctx = Context.current();
        ctx.heartbeat();
        started();
        await new Promise((resolve) => ctx.cancellationSignal.addEventListener('abort', resolve));
        throw new Error('worker stopped');
      },
    },
    shutdownGraceTime: '100ms',
  });
  try {
    const err = await orch.runUntil(
      gpu.runUntil(async () => {
        const handle = await client.workflow.start(inferenceWorkflow, {
          taskQueue: orchQueue,
          workflowId: input.requestId,
          args: [input],
        });
        await callStarted;
        await handle.cancel();
        return handle.result().catch((e: unknown) => e);
      }),
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(calls).toEqual(['fail:cancelled:cancelled']);
    // The server's view: cancel asked, call timed out by heartbeat, not retried, workflow cancelled.
    const events = (await client.workflow.getHandle(input.requestId).fetchHistory()).events ?? [];
    const timedOut = events.find((e) => e.activityTaskTimedOutEventAttributes);
    expect(String(timedOut?.activityTaskTimedOutEventAttributes?.retryState)).toMatch(/CANCEL_REQUESTED|7/);
    expect(events.some((e) => e.workflowExecutionCanceledEventAttributes)).toBe(true);
  } finally {
    await Promise.allSettled([connection.close(), native.close()]);
  }
}, 60_000);

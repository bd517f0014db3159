import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { GpuActivities, OrchestrationActivities } from '../activities';
import { InferenceStatusKey } from '../src/shared/search-attributes';
import { ErrorType } from '../src/shared/error-types';
import type { InferenceInput, InferenceOutcome, RequestStatus } from '../src/shared/types';

// Bookkeeping against PostgreSQL and Redis: short, idempotent calls, so they run as local
// activities (no task-queue round trip; about 3x the workflows per second on the dev server).
// Retried until those stores come back: they are our own infrastructure, and giving up would
// lose a request.
const orchestration = proxyLocalActivities<OrchestrationActivities>({
  startToCloseTimeout: '30 seconds',
  localRetryThreshold: '10 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '15 seconds' },
});

function setStatus(status: RequestStatus): void {
  upsertSearchAttributes([{ key: InferenceStatusKey, value: status }]);
}

function describe(err: unknown): { type: string; message: string } {
  let e: unknown = err;
  // Unwrap ActivityFailure -> ApplicationFailure to keep the model service's own type and message.
  while (e instanceof Error && !(e instanceof ApplicationFailure) && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure) return { type: e.type ?? ErrorType.Internal, message: e.message };
  return { type: ErrorType.Internal, message: e instanceof Error ? e.message : String(e) };
}

/**
 * One inference request: admit (quota), call the model on the GPU queue, record the result, commit
 * the actual usage. Any failure or cancellation releases the reservation.
 */
export async function inferenceWorkflow(input: InferenceInput): Promise<InferenceOutcome> {
  const admitted = await orchestration.admitRequest(input);
  if (!admitted.admitted) {
    const error = { type: ErrorType.QuotaExceeded, message: `quota exceeded: ${admitted.limit}` };
    await orchestration.failRequest(input, 'rejected', error);
    setStatus('rejected');
    return { status: 'rejected', error };
  }

  const gpu = proxyActivities<GpuActivities>({
    taskQueue: input.gpuTaskQueue,
    startToCloseTimeout: input.modelCall.timeoutMs,
    // A GPU worker that dies is noticed within this, and the call retried on another worker.
    heartbeatTimeout: Math.min(input.modelCall.timeoutMs, 10_000),
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      maximumAttempts: input.modelCall.maxAttempts,
    },
    priority: input.priority,
  });

  try {
    setStatus('running');
    const result = await gpu.callModel(input);
    // Once the model has produced tokens they are charged, even if a cancel arrives now.
    await CancellationScope.nonCancellable(async () => {
      await orchestration.recordResult(input, result);
      await orchestration.commitUsage(input, result);
    });
    setStatus('completed');
    return { status: 'completed', usage: result.usage };
  } catch (err) {
    const cancelled = isCancellation(err);
    const error = cancelled ? { type: ErrorType.Cancelled, message: 'request cancelled' } : describe(err);
    await CancellationScope.nonCancellable(() =>
      orchestration.failRequest(input, cancelled ? 'cancelled' : 'failed', error),
    );
    setStatus(cancelled ? 'cancelled' : 'failed');
    if (cancelled) throw err;
    throw ApplicationFailure.nonRetryable(error.message, error.type);
  }
}

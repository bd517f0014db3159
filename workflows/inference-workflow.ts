import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  deprecatePatch,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  TimeoutFailure,
  upsertSearchAttributes,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { GpuActivities, OrchestrationActivities } from '../activities';
import { InferenceStatusKey } from '../src/shared/search-attributes';
import { ErrorType, NON_RETRYABLE_ERROR_TYPES } from '../src/shared/error-types';
import type {
  InferenceInput,
  InferenceOutcome,
  RequestStatus,
  ReservationOutcome,
} from '../src/shared/types';
import { Patch } from './patches';

// Bookkeeping against PostgreSQL and Redis: short, idempotent calls, so they run as local
// activities (no task-queue round trip; about 3x the workflows per second on the dev server).
// Retried until those stores come back: they are our own infrastructure, and giving up would
// lose a request.
const orchestration = proxyLocalActivities<OrchestrationActivities>({
  startToCloseTimeout: '30 seconds',
  localRetryThreshold: '10 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '15 seconds' },
});

/**
 * Time the GPU activity gets beyond its per-attempt timeout: the adapter enforces the timeout itself
 * and reports it with the output produced so far, which must reach the workflow before the server's
 * own start-to-close timer fires and drops that report.
 */
const ATTEMPT_GRACE_MS = 5000;

const CANCELLED = { type: ErrorType.Cancelled, message: 'request cancelled' };

function setStatus(status: RequestStatus): void {
  upsertSearchAttributes([{ key: InferenceStatusKey, value: status }]);
}

function describe(err: unknown): { type: string; message: string } {
  let e: unknown = err;
  // Unwrap ActivityFailure -> ApplicationFailure to keep the model service's own type and message.
  while (e instanceof Error && !(e instanceof ApplicationFailure) && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure) return { type: e.type ?? ErrorType.Internal, message: e.message };
  if (e instanceof TimeoutFailure) {
    return { type: ErrorType.ModelTimeout, message: `model call timed out (${e.timeoutType ?? 'timeout'})` };
  }
  return { type: ErrorType.Internal, message: e instanceof Error ? e.message : String(e) };
}

/** Options of the model call on the request's GPU queue. */
function gpuOptions(input: InferenceInput): ActivityOptions {
  const { timeoutMs, maxAttempts } = input.modelCall;
  // Bounded by the request deadline: no retry policy may keep a request alive past it.
  // Workflow time (the SDK makes Date deterministic: the time of the current workflow task).
  const now = new Date().getTime();
  const untilDeadline = input.deadlineAt ? Date.parse(input.deadlineAt) - now : undefined;
  return {
    taskQueue: input.gpuTaskQueue,
    startToCloseTimeout: timeoutMs + ATTEMPT_GRACE_MS,
    ...(untilDeadline !== undefined
      ? { scheduleToCloseTimeout: Math.max(1000, untilDeadline) + ATTEMPT_GRACE_MS }
      : {}),
    // A GPU worker that dies is noticed within this, and the call retried on another worker.
    heartbeatTimeout: Math.min(timeoutMs, 10_000),
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      maximumAttempts: maxAttempts,
      // Defence in depth: these types never heal, whatever the thrower said.
      nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
    },
    priority: input.priority,
  };
}

/**
 * One inference request: admit (quota; the API does it for inputs that say `admittedAtAccept`), call
 * the model on the GPU queue, record the result, commit the actual usage. Any failure or cancellation
 * settles the reservation: output the GPU produced before it is kept and charged, anything else is
 * released.
 */
export async function inferenceWorkflow(input: InferenceInput): Promise<InferenceOutcome> {
  const admittedAtAccept = input.admittedAtAccept === true;
  // Patch lean-history: one marker, recorded first, instead of the four below, and no `running`
  // status upsert. Histories recorded before it replay the `!lean` branches.
  const lean = patched(Patch.LeanHistory);
  // The four earlier patches are deprecated (docs/operations.md, "Retiring workflow shapes"): their
  // old branches are gone, and each `deprecatePatch()` stands where its `patched()` stood, recording
  // the same marker at the same point.
  if (!lean) deprecatePatch(admittedAtAccept ? Patch.AdmittedAtAccept : Patch.CancelSafeAdmitAndDeadline);
  const settle = (status: 'failed' | 'cancelled' | 'rejected', error: { type: string; message: string }) =>
    CancellationScope.nonCancellable(() => orchestration.failRequest(input, status, error));

  let admitted: ReservationOutcome;
  if (admittedAtAccept) {
    admitted = { admitted: true };
  } else {
    // Not cancellable: a cancel that arrives now (or before this task) is handled once the request
    // row and its reservation are known, so the reservation is settled rather than abandoned.
    try {
      admitted = await CancellationScope.nonCancellable(() => orchestration.admitRequest(input));
    } catch (err) {
      const error = describe(err);
      await settle('failed', error);
      setStatus('failed');
      throw ApplicationFailure.nonRetryable(error.message, error.type);
    }
  }
  if (!admitted.admitted) {
    const error = { type: ErrorType.QuotaExceeded, message: `quota exceeded: ${admitted.limit}` };
    await settle('rejected', error);
    setStatus('rejected');
    return { status: 'rejected', error };
  }
  if (CancellationScope.current().consideredCancelled) {
    await settle('cancelled', CANCELLED);
    setStatus('cancelled');
    throw new CancelledFailure(CANCELLED.message);
  }

  const gpu = proxyActivities<GpuActivities>(gpuOptions(input));

  try {
    // The status search attribute is written when the request ends; while it runs, Temporal's own
    // ExecutionStatus says so.
    if (!lean) setStatus('running');
    const result = await gpu.callModel(input);
    // Once the model has produced tokens they are charged, even if a cancel arrives now.
    await CancellationScope.nonCancellable(async () => {
      if (!lean && !admittedAtAccept) deprecatePatch(Patch.SingleCompletionStep);
      await orchestration.completeRequest(input, result);
    });
    setStatus('completed');
    return { status: 'completed', usage: result.usage };
  } catch (err) {
    // Asked to cancel, the call ended some other way (its worker died before acknowledging it):
    // still cancelled. The patch id is recorded only on that path.
    const cancelAsked = !isCancellation(err) && CancellationScope.current().consideredCancelled;
    if (cancelAsked && !lean) deprecatePatch(Patch.CancelWinsOverCallFailure);
    const cancelled = isCancellation(err) || cancelAsked;
    const error = cancelled ? CANCELLED : describe(err);
    await settle(cancelled ? 'cancelled' : 'failed', error);
    setStatus(cancelled ? 'cancelled' : 'failed');
    if (cancelAsked) throw new CancelledFailure(CANCELLED.message);
    if (cancelled) throw err;
    throw ApplicationFailure.nonRetryable(error.message, error.type);
  }
}

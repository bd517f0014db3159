import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ModelAdapter } from '../src/models/model-adapter';
import { ModelCallError } from '../src/models/model-call-error';
import type { Logger } from '../src/observability/logger';
import type { Metrics } from '../src/observability/metrics';
import type { RequestsRepo } from '../src/requests/requests-repo';
import { ErrorType } from '../src/shared/error-types';
import type { InferenceInput, ModelCallResult } from '../src/shared/types';

/** How often a model call heartbeats (tokens so far). */
export const HEARTBEAT_EVERY_MS = 250;

/** Dependencies of the GPU activities; built by the GPU worker entry point. */
export interface GpuDeps {
  /** Adapter per model name. */
  adapters: Map<string, ModelAdapter>;
  /** Records attempts and their errors so GET /v1/inference/:id can show them. */
  requests: Pick<RequestsRepo, 'markAttempt' | 'recordAttemptError'>;
  metrics: Metrics;
  logger: Logger;
  /** Aborted when the worker drains past its grace period: in-flight calls are handed back. */
  drainSignal?: AbortSignal;
}

/** Turns a classified model error into the Temporal failure that decides retry behaviour. */
export function toApplicationFailure(err: unknown): ApplicationFailure {
  if (err instanceof ModelCallError) {
    return ApplicationFailure.create({
      type: err.type,
      message: err.message,
      nonRetryable: !err.retryable,
      nextRetryDelay: err.retryAfterMs !== undefined ? err.retryAfterMs : undefined,
      details: [{ status: err.status ?? null }],
    });
  }
  return ApplicationFailure.create({
    type: ErrorType.Internal,
    message: (err as Error)?.message ?? String(err),
  });
}

/** Activities on GPU task queues: the call to the model service. */
export function createGpuActivities(deps: GpuDeps) {
  const { adapters, requests, metrics, logger } = deps;
  return {
    /** Calls the model, heartbeating tokens so far; cancel or drain aborts the HTTP call. */
    async callModel(input: InferenceInput): Promise<ModelCallResult> {
      const ctx = Context.current();
      const attempt = ctx.info.attempt;
      const adapter = adapters.get(input.model);
      if (!adapter) {
        throw ApplicationFailure.nonRetryable(
          `no adapter for model ${input.model} on this worker`,
          ErrorType.ModelInvalidRequest,
        );
      }
      await requests.markAttempt(input.requestId, attempt);
      const signal = deps.drainSignal
        ? AbortSignal.any([ctx.cancellationSignal, deps.drainSignal])
        : ctx.cancellationSignal;
      const stopTimer = metrics.modelCallDuration.startTimer({ model: input.model });
      metrics.modelCallsInFlight.inc({ model: input.model });
      // Heartbeat on a timer, not only per token: it proves liveness during queueing and prefill, and a
      // heartbeat is how a cancel reaches this activity (the worker caps throttling at 500 ms).
      let tokens = 0;
      const ticker = setInterval(() => ctx.heartbeat({ tokens }), HEARTBEAT_EVERY_MS);
      try {
        const result = await adapter.generate(
          {
            prompt: input.prompt,
            messages: input.messages,
            maxTokens: input.maxTokens,
            temperature: input.temperature,
            promptTokens: input.promptTokens,
          },
          { signal, onProgress: (n) => (tokens = n) },
        );
        metrics.modelCalls.inc({ model: input.model, outcome: 'ok' });
        return result;
      } catch (err) {
        const failure = toApplicationFailure(err);
        const outcome = ctx.cancellationSignal.aborted
          ? 'cancelled'
          : deps.drainSignal?.aborted
            ? 'drained'
            : (failure.type ?? 'error');
        metrics.modelCalls.inc({ model: input.model, outcome });
        logger.warn(
          { requestId: input.requestId, model: input.model, attempt, outcome, error: failure.message },
          'model call failed',
        );
        await requests.recordAttemptError(input.requestId, attempt, failure.message).catch(() => undefined);
        if (ctx.cancellationSignal.aborted) throw err;
        throw failure;
      } finally {
        clearInterval(ticker);
        stopTimer();
        metrics.modelCallsInFlight.dec({ model: input.model });
      }
    },
  };
}

export type GpuActivities = ReturnType<typeof createGpuActivities>;

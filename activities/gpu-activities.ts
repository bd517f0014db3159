import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ModelAdapter } from '../src/models/model-adapter';
import { ModelCallError } from '../src/models/model-call-error';
import type { Logger } from '../src/observability/logger';
import type { Metrics } from '../src/observability/metrics';
import type { RequestsRepo } from '../src/requests/requests-repo';
import { RelayWriter } from '../src/streams/relay-writer';
import { streamMetrics } from '../src/streams/stream-metrics';
import type { TokenRelay } from '../src/streams/token-relay';
import { gated, type ReservationSlices } from '../src/quota/reservation-slices';
import { ErrorType } from '../src/shared/error-types';
import { tokenCountMetrics } from '../src/models/token-count-metrics';
import type { InferenceInput, ModelCallResult, PartialFinishReason } from '../src/shared/types';
import { continuationMetrics } from '../src/models/continuation-metrics';
import { continuedResult, planContinuation, progress } from './continuation';

/** How often a model call heartbeats (tokens so far). */
export const HEARTBEAT_EVERY_MS = 250;

/** Dependencies of the GPU activities; built by the GPU worker entry point. */
export interface GpuDeps {
  /** Adapter per model name. */
  adapters: Map<string, ModelAdapter>;
  /** Records attempts, their errors and the output of an attempt that ended early. */
  requests: Pick<RequestsRepo, 'markAttempt' | 'recordAttemptError' | 'recordPartial'>;
  metrics: Metrics;
  logger: Logger;
  /** Relays generated text to streaming clients (GET /v1/inference/:id/stream); none: no live stream. */
  relay?: TokenRelay;
  /**
   * Extends a request's reservation slice by slice as tokens stream, and stops the generation where
   * the tenant's token limits refuse more. None: a request keeps what it reserved at accept.
   */
  slices?: ReservationSlices;
}

/** Longest wait for the relay's last write when an attempt ends: the stream is best effort. */
const RELAY_END_WAIT_MS = 2000;

/** How long before the request deadline an attempt gives up, so its report arrives in time. */
const DEADLINE_MARGIN_MS = 1000;

const MARK_TRIES = 6;

/** Runs `mark` until it succeeds, up to {@link MARK_TRIES} times, 250 ms apart and doubling. */
async function retryMark(mark: () => Promise<void>): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await mark();
    } catch (err) {
      if (i >= MARK_TRIES) throw err;
      await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** (i - 1), 2000)));
    }
  }
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
  const { adapters, requests, metrics, logger, relay, slices } = deps;
  const stream = streamMetrics(metrics.registry);
  const counted = tokenCountMetrics(metrics.registry);
  const continuations = continuationMetrics(metrics.registry);
  const openRelay = (requestId: string, attempt: number, opened: boolean): RelayWriter | undefined =>
    relay &&
    new RelayWriter(
      relay,
      requestId,
      attempt,
      (err) => {
        stream.relayErrors.inc();
        logger.warn({ err, requestId, attempt }, 'token relay write failed; live stream incomplete');
      },
      { intervalMs: relay.writeIntervalMs, onWrite: () => stream.relayWrites.inc(), opened },
    );
  const closeRelay = async (
    w: RelayWriter | undefined,
    finishReason: string,
    stopReason?: string,
  ): Promise<void> => {
    if (!w) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      w.end(finishReason, stopReason),
      new Promise((r) => (timer = setTimeout(r, RELAY_END_WAIT_MS))),
    ]);
    clearTimeout(timer);
  };
  return {
    /**
     * Calls the model, heartbeating tokens so far. A cancel aborts the HTTP call; on worker shutdown
     * the SDK cancels the call after its grace time and Temporal retries it elsewhere. When the call
     * ends without a result but after producing output (cancelled, timed out, connection lost), that
     * output is recorded for this attempt: the workflow charges it if this was the last attempt.
     * A retried attempt continues the answer an earlier one produced (heartbeated and relayed; see
     * planContinuation) where the adapter can: it asks for what is left of max_tokens and returns
     * the whole answer, so the stream and the stored output read as one text, charged once.
     */
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
      // In parallel with the call (it is on the path to the first token): awaited before this attempt
      // reports anything, so its partial output or error is never cleared by its own mark.
      // A PostgreSQL restart while the call runs should not cost the request a model attempt: the
      // mark is retried (about 5 s in all) before the attempt gives up on it.
      const marked = retryMark(() => requests.markAttempt(input.requestId, attempt));
      marked.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
      const plan =
        attempt > 1
          ? await planContinuation(
              { adapter, relay, metrics: continuations, logger },
              input,
              attempt,
              ctx.info.heartbeatDetails,
            )
          : undefined;
      const kept = plan?.prefix ?? '';
      const keptTokens = plan?.produced ?? 0;
      let prefix = kept;
      let produced = keptTokens;
      // The continued answer is this attempt's output from its start: charged if the attempt dies last.
      const marking = kept
        ? marked.then(() =>
            requests
              .recordPartial(input.requestId, attempt, kept, keptTokens, 'error')
              .catch((e: unknown) => {
                logger.error({ err: e, requestId: input.requestId }, 'could not record partial output');
              }),
          )
        : marked;
      marking.catch(() => undefined);
      const untilDeadline = input.deadlineAt
        ? Date.parse(input.deadlineAt) - Date.now() - DEADLINE_MARGIN_MS
        : undefined;
      const deadline =
        untilDeadline !== undefined ? AbortSignal.timeout(Math.max(1, untilDeadline)) : undefined;
      const signal = deadline ? AbortSignal.any([ctx.cancellationSignal, deadline]) : ctx.cancellationSignal;
      const stopTimer = metrics.modelCallDuration.startTimer({ model: input.model });
      metrics.modelCallsInFlight.inc({ model: input.model });
      // Heartbeat on a timer, not only per token: it proves liveness during queueing and prefill, and a
      // heartbeat is how a cancel reaches this activity (the worker caps throttling at 500 ms).
      // The output so far is heartbeated too: a retry continues from it (relay readers may lag it).
      let tokens = produced;
      let output = prefix;
      let firstToken = true;
      const live = openRelay(input.requestId, attempt, plan?.relayOpened === true);
      // Reservation in slices: tokens pass only once reserved; a refused slice ends the call. A
      // continued answer's earlier tokens count against the reservation.
      let gate = slices?.open(input, signal, { alreadyProduced: produced });
      const ticker = setInterval(() => ctx.heartbeat(progress(tokens, output)), HEARTBEAT_EVERY_MS);
      try {
        const call = (from: string, already: number): Promise<ModelCallResult> =>
          adapter.generate(
            {
              prompt: input.prompt,
              messages: input.messages,
              maxTokens: input.maxTokens - already,
              temperature: input.temperature,
              sampling: input.sampling,
              promptTokens: input.promptTokens,
              ...(from ? { continuation: from } : {}),
            },
            {
              signal: gate?.signal ?? signal,
              onProgress: (n) => (tokens = already + n),
              onText: gated(gate, (piece) => {
                // From acceptance: a retried attempt's first token includes the time lost before it.
                if (firstToken) {
                  firstToken = false;
                  metrics.timeToFirstToken.observe(
                    { model: input.model },
                    (Date.now() - Date.parse(input.acceptedAt)) / 1000,
                  );
                }
                output += piece;
                live?.text(piece);
              }),
            },
          );
        let generated: ModelCallResult;
        if (produced >= input.maxTokens) {
          // The earlier attempt produced all the request may: nothing is left to generate.
          generated = lengthReached(input);
        } else {
          try {
            generated = await call(prefix, produced);
          } catch (err) {
            if (!prefix || output !== prefix || !refusedContinuation(err)) throw err;
            // A server that does not take the continuation request (no continue_final_message):
            // the answer restarts in this attempt, and its readers are told so.
            continuations.attempts.inc({ model: input.model, outcome: 'restarted', reason: 'refused' });
            logger.warn(
              { requestId: input.requestId, model: input.model, attempt, error: (err as Error).message },
              'model server refused the continuation request: answer restarts',
            );
            [prefix, produced, output, tokens] = ['', 0, '', 0];
            live?.restart();
            gate?.close();
            gate = slices?.open(input, signal);
            generated = await call('', 0);
          }
        }
        const whole = prefix
          ? continuedResult(
              { prefix, produced },
              generated,
              input,
              produced < input.maxTokens ? continuations : undefined,
            )
          : generated;
        const result = gate ? await gate.finish(whole, () => output) : whole;
        metrics.modelCalls.inc({ model: input.model, outcome: result.stopReason ?? 'ok' });
        if (!prefix && result.usageReported && input.promptTokens > 0) {
          counted.promptActualOverEstimate.observe(
            { model: input.model },
            result.usage.prompt_tokens / input.promptTokens,
          );
        }
        await closeRelay(live, result.finishReason, result.stopReason);
        // A mark that failed (PostgreSQL down) fails the attempt, as it did before the call.
        await marking;
        return result;
      } catch (err) {
        // Stopped at its reservation (the adapter ended with the gate's abort): a result, not a failure.
        const stopped = gate?.stoppedResult(output);
        if (stopped) {
          metrics.modelCalls.inc({ model: input.model, outcome: stopped.stopReason! });
          await closeRelay(live, stopped.finishReason, stopped.stopReason);
          await marking;
          return stopped;
        }
        // The whole output so far, for the next attempt to continue (the ticker's may be 250 ms old).
        ctx.heartbeat(progress(tokens, output));
        const details = ctx.cancellationDetails;
        const cancelled = ctx.cancellationSignal.aborted && !details?.workerShutdown;
        const pastDeadline = !ctx.cancellationSignal.aborted && deadline?.aborted === true;
        const failure = pastDeadline
          ? ApplicationFailure.nonRetryable(
              `request deadline ${input.deadlineAt} reached during the model call`,
              ErrorType.ModelTimeout,
            )
          : toApplicationFailure(err);
        const outcome = details?.workerShutdown
          ? 'drained'
          : cancelled
            ? 'cancelled'
            : (failure.type ?? 'error');
        metrics.modelCalls.inc({ model: input.model, outcome });
        await closeRelay(live, outcome);
        logger.warn(
          { requestId: input.requestId, model: input.model, attempt, outcome, error: failure.message },
          'model call failed',
        );
        await marking.catch(() => undefined);
        // A drained call is handed back whole to another worker: nothing of it is kept.
        if (output && !details?.workerShutdown) {
          const reason: PartialFinishReason = cancelled
            ? 'cancelled'
            : failure.type === ErrorType.ModelTimeout
              ? 'timeout'
              : 'error';
          // Counted the model's way, and never more than the request may produce (or has reserved).
          const produced = await adapter
            .countTokens(output)
            .then((n) => Math.min(n, input.maxTokens, gate?.covered ?? Infinity))
            .catch(() => Math.min(input.maxTokens, gate?.covered ?? Infinity));
          await requests
            .recordPartial(input.requestId, attempt, output, produced, reason)
            .catch((e: unknown) =>
              logger.error({ err: e, requestId: input.requestId }, 'could not record partial output'),
            );
        }
        await requests.recordAttemptError(input.requestId, attempt, failure.message).catch(() => undefined);
        if (ctx.cancellationSignal.aborted) throw err;
        throw failure;
      } finally {
        gate?.close();
        clearInterval(ticker);
        stopTimer();
        metrics.modelCallsInFlight.dec({ model: input.model });
      }
    },
  };
}

/** The server refused the request as invalid (a continuation it does not support). */
function refusedContinuation(err: unknown): boolean {
  return err instanceof ModelCallError && err.type === ErrorType.ModelInvalidRequest;
}

/** The result of a continuation with nothing left to generate (its own part is empty). */
function lengthReached(input: InferenceInput): ModelCallResult {
  return {
    text: '',
    finishReason: 'length',
    usageReported: false,
    usage: { prompt_tokens: input.promptTokens, completion_tokens: 0, total_tokens: input.promptTokens },
  };
}

export type GpuActivities = ReturnType<typeof createGpuActivities>;

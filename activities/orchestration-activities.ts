import {
  reservationRefOf as ref,
  UnknownTenantError,
  type QuotaStore,
  type SettleResult,
} from '../src/quota/quota-store';
import { refusalFigures } from '../src/quota/refusal';
import type { RequestsRepo } from '../src/requests/requests-repo';
import type { Logger } from '../src/observability/logger';
import type { Metrics } from '../src/observability/metrics';
import type { TokenRelay } from '../src/streams/token-relay';
import type { InferenceInput, ModelCallResult, ReservationOutcome, Usage } from '../src/shared/types';
import type { WebhookNotifier } from '../src/webhooks/webhook-notifier';
import { permanentAsNonRetryable } from './permanent-errors';

/** Dependencies of the orchestration activities; built by the worker entry point. */
export interface OrchestrationDeps {
  requests: RequestsRepo;
  quota: QuotaStore;
  metrics: Metrics;
  logger: Logger;
  /** Tells streaming and waiting clients that a request is terminal; none: they poll PostgreSQL. */
  relay?: TokenRelay;
  /**
   * Starts the webhook deliveries of a request that became terminal (once per event and target).
   * None: no webhooks. @default none
   */
  webhooks?: Pick<WebhookNotifier, 'requestEnded'>;
}

/**
 * Activities on the orchestration queue: PostgreSQL and Redis bookkeeping. Each one is idempotent, so
 * Temporal may retry any of them after a crash without double-inserting or double-charging.
 */
export function createOrchestrationActivities(deps: OrchestrationDeps) {
  const { requests, quota, metrics, logger, relay, webhooks } = deps;
  // Best effort: a client that misses it finds the terminal status in PostgreSQL on its next check.
  const announce = async (requestId: string, status: string): Promise<void> => {
    await relay
      ?.announceEnd(requestId, status)
      .catch((err: unknown) =>
        logger.warn({ err, requestId }, 'could not announce the end on the token relay'),
      );
  };
  const countTokens = (input: InferenceInput, usage: Usage): void => {
    const labels = { tenant: input.tenantId, model: input.model };
    metrics.tokensCharged.inc({ ...labels, kind: 'prompt' }, usage.prompt_tokens);
    metrics.tokensCharged.inc({ ...labels, kind: 'completion' }, usage.completion_tokens);
  };
  // Once per request: only the call that settled the reservation observes it.
  const observeEnd = (input: InferenceInput, status: string): void =>
    metrics.requestDuration.observe(
      { model: input.model, status },
      (Date.now() - Date.parse(input.acceptedAt)) / 1000,
    );
  const activities = {
    /**
     * Writes the request row, then makes sure it holds its reservation (the API reserved it already;
     * this re-creates it if Redis lost it). Row first, so a Redis rebuild always sees it as open.
     */
    async admitRequest(input: InferenceInput): Promise<ReservationOutcome> {
      const r = await permanentAsNonRetryable(async () => {
        await requests.insertQueued(input);
        return quota.reserve(ref(input), input.estimatedTokens);
      });
      if (r.outcome === 'reserved' || (r.outcome === 'exists' && r.state === 'reserved'))
        return { admitted: true };
      if (r.outcome === 'exists') {
        // Settled already: a replayed admit after completion/failure. Nothing to hold.
        return { admitted: true };
      }
      logger.warn(
        { requestId: input.requestId, tenant: input.tenantId, limit: r.limit },
        'reservation lost and refused on re-admit',
      );
      return {
        admitted: false,
        limit: r.limit,
        limitValue: r.limitValue,
        resetAt: r.resetsAt.toISOString(),
        ...refusalFigures(r),
      };
    },

    /** Stores output, usage and the ledger row in one transaction (the ledger is the source of truth). */
    async recordResult(input: InferenceInput, result: ModelCallResult): Promise<void> {
      await requests.recordResult(input, result);
    },

    /** Replaces the reservation by the actual tokens, then marks the request completed. */
    async commitUsage(input: InferenceInput, result: ModelCallResult): Promise<void> {
      const r = await quota.commit(ref(input), result.usage.total_tokens);
      // The webhook targets are read by the same statement that moves the status.
      const targets = await requests.markCompleted(input.requestId, webhooks && { tenantId: input.tenantId });
      await announce(input.requestId, 'completed');
      // After the status moved, so a receiver that reads the request sees it terminal. A failure here
      // retries this activity, whose every step is idempotent.
      await webhooks?.requestEnded(input, { status: 'completed', usage: result.usage }, targets);
      if (r.outcome === 'settled') {
        metrics.requestsFinished.inc({ tenant: input.tenantId, model: input.model, status: 'completed' });
        observeEnd(input, 'completed');
        metrics.estimateRatio.observe(
          { model: input.model },
          result.usage.total_tokens / Math.max(1, input.estimatedTokens),
        );
        countTokens(input, result.usage);
        logger.info(
          {
            requestId: input.requestId,
            tenant: input.tenantId,
            model: input.model,
            estimated: input.estimatedTokens,
            actual: result.usage.total_tokens,
          },
          'usage committed',
        );
      }
    },

    /**
     * Ends a request without a result (failed, cancelled or rejected). Output its last model attempt
     * produced before the end is charged (prompt + produced tokens: ledger row, then the quota commit);
     * otherwise the reservation is given back. Then the status moves, so a client that sees the final
     * status also sees its quota settled. Idempotent; a no-op after a commit.
     */
    async failRequest(
      input: InferenceInput,
      status: 'failed' | 'cancelled' | 'rejected',
      error: { type: string; message: string },
    ): Promise<void> {
      // A batch line stopped by its batch's expiry is charged nothing, like one never started.
      const expiredLine = status === 'cancelled' && (await requests.isExpiredBatchLine(input.requestId));
      const charged = status === 'rejected' || expiredLine ? undefined : await requests.chargePartial(input);
      let r: SettleResult;
      try {
        r = charged ? await quota.commit(ref(input), charged.total_tokens) : await quota.release(ref(input));
      } catch (err) {
        // A tenant deleted meanwhile holds no quota: there is nothing to settle.
        if (!(err instanceof UnknownTenantError)) throw err;
        r = { outcome: 'missing' };
      }
      const targets = await requests.finish(
        input.requestId,
        status,
        error,
        webhooks && { tenantId: input.tenantId },
      );
      await announce(input.requestId, status);
      await webhooks?.requestEnded(input, { status, error, ...(charged ? { usage: charged } : {}) }, targets);
      if (r.outcome === 'settled') {
        metrics.requestsFinished.inc({ tenant: input.tenantId, model: input.model, status });
        observeEnd(input, status);
        if (charged) countTokens(input, charged);
      }
      logger.info(
        {
          requestId: input.requestId,
          tenant: input.tenantId,
          status,
          error,
          settle: r.outcome,
          ...(charged ? { charged: charged.total_tokens } : {}),
          ...(expiredLine ? { expiredBatchLine: true } : {}),
        },
        'request finished without result',
      );
    },
  };
  return {
    ...activities,
    /**
     * {@link activities.recordResult} then {@link activities.commitUsage} in one local activity
     * (patch `single-completion-step`): the output crosses to the worker once. Both steps are
     * idempotent, so a retry after a crash between them is safe.
     */
    async completeRequest(input: InferenceInput, result: ModelCallResult): Promise<void> {
      await activities.recordResult(input, result);
      await activities.commitUsage(input, result);
    },
  };
}

export type OrchestrationActivities = ReturnType<typeof createOrchestrationActivities>;

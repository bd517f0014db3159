import type { QuotaStore } from '../src/quota/quota-store';
import type { RequestsRepo } from '../src/requests/requests-repo';
import type { Logger } from '../src/observability/logger';
import type { Metrics } from '../src/observability/metrics';
import type { InferenceInput, ModelCallResult, ReservationOutcome } from '../src/shared/types';

/** Dependencies of the orchestration activities; built by the worker entry point. */
export interface OrchestrationDeps {
  requests: RequestsRepo;
  quota: QuotaStore;
  metrics: Metrics;
  logger: Logger;
}

const ref = (i: InferenceInput): { requestId: string; tenantId: string; acceptedAt: Date } => ({
  requestId: i.requestId,
  tenantId: i.tenantId,
  acceptedAt: new Date(i.acceptedAt),
});

/**
 * Activities on the orchestration queue: PostgreSQL and Redis bookkeeping. Each one is idempotent, so
 * Temporal may retry any of them after a crash without double-inserting or double-charging.
 */
export function createOrchestrationActivities(deps: OrchestrationDeps) {
  const { requests, quota, metrics, logger } = deps;
  return {
    /**
     * Writes the request row, then makes sure it holds its reservation (the API reserved it already;
     * this re-creates it if Redis lost it). Row first, so a Redis rebuild always sees it as open.
     */
    async admitRequest(input: InferenceInput): Promise<ReservationOutcome> {
      await requests.insertQueued(input);
      const r = await quota.reserve(ref(input), input.estimatedTokens);
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
        remaining: Math.max(0, r.limitValue - r.used - r.reserved),
        resetAt: r.resetsAt.toISOString(),
        retryAfterS: Math.max(1, Math.ceil((r.resetsAt.getTime() - Date.now()) / 1000)),
      };
    },

    /** Stores output, usage and the ledger row in one transaction (the ledger is the source of truth). */
    async recordResult(input: InferenceInput, result: ModelCallResult): Promise<void> {
      await requests.recordResult(input, result);
    },

    /** Replaces the reservation by the actual tokens, then marks the request completed. */
    async commitUsage(input: InferenceInput, result: ModelCallResult): Promise<void> {
      const r = await quota.commit(ref(input), result.usage.total_tokens);
      await requests.markCompleted(input.requestId);
      if (r.outcome === 'settled') {
        metrics.requestsFinished.inc({ tenant: input.tenantId, model: input.model, status: 'completed' });
        metrics.tokensCharged.inc(
          { tenant: input.tenantId, model: input.model, kind: 'prompt' },
          result.usage.prompt_tokens,
        );
        metrics.tokensCharged.inc(
          { tenant: input.tenantId, model: input.model, kind: 'completion' },
          result.usage.completion_tokens,
        );
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
     * Gives the reservation back, then moves the request to failed, cancelled or rejected: a client
     * that sees the final status also sees its quota released. Idempotent; no-op after a commit.
     */
    async failRequest(
      input: InferenceInput,
      status: 'failed' | 'cancelled' | 'rejected',
      error: { type: string; message: string },
    ): Promise<void> {
      const r = await quota.release(ref(input));
      await requests.finish(input.requestId, status, error);
      if (r.outcome === 'settled')
        metrics.requestsFinished.inc({ tenant: input.tenantId, model: input.model, status });
      logger.info(
        { requestId: input.requestId, tenant: input.tenantId, status, error, release: r.outcome },
        'request finished without result',
      );
    },
  };
}

export type OrchestrationActivities = ReturnType<typeof createOrchestrationActivities>;

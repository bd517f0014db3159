import { AppError } from '../errors/app-error';
import { newRequestId, type SubmitService } from './submit-service';
import type { WorkflowGateway } from './workflow-gateway';
import type { Logger } from '../observability/logger';
import type { QuotaStore } from '../quota/quota-store';
import { ErrorType } from '../shared/error-types';
import type { InferenceInput } from '../shared/types';
import { bodyHash } from '../idempotency/canonical-hash';
import type { IdempotencyMetrics, IdempotencyOutcome } from '../idempotency/idempotency-metrics';
import type { IdempotencyRecord, IdempotencyStore, StoredResponse } from '../idempotency/idempotency-store';

/** Dependencies of {@link IdempotentSubmit}. */
export interface IdempotentSubmitDeps {
  store: IdempotencyStore;
  submit: Pick<SubmitService, 'submit'>;
  workflows: Pick<WorkflowGateway, 'find'>;
  quota: Pick<QuotaStore, 'reservationState'>;
  metrics: IdempotencyMetrics;
  logger: Logger;
  /** Seconds before a `pending` key is re-driven by a retry; earlier a retry gets 409 (IDEMPOTENCY_PENDING_STALE_S). */
  pendingStaleS: number;
}

/** One submit carrying an Idempotency-Key. */
export interface IdempotentAttempt {
  tenantId: string;
  key: string;
  /** `POST /v1/inference`, `POST /v1/chat/completions`...: part of the hash, so keys do not cross endpoints. */
  endpoint: string;
  /** The parsed (zod) body; its canonical hash is compared on reuse. */
  body: unknown;
  /**
   * Validates and builds the request, and does what must precede any write (the quota pre-check,
   * a webhook URL's look-up). Runs only when the key is new, so a replay costs none of it; it may
   * throw 400/404/429: then nothing is stored.
   */
  prepare: () => Promise<InferenceInput>;
  /**
   * Runs once quota is reserved, before the request row is written and the workflow started, with
   * the final request id (SubmitOptions.afterReserve); idempotent.
   */
  afterReserve?: (input: InferenceInput) => Promise<void>;
  /**
   * The response a retry with this key gets replayed, recorded in the same write that marks the key
   * started. None: a retry's response is rebuilt from its request (the OpenAI endpoints).
   */
  respond?: (input: InferenceInput) => StoredResponse;
}

/** What an idempotent submit resolved to. */
export interface Accepted {
  input: InferenceInput;
  /** True when the key was seen before: the response is the first one's (or rebuilt from its request). */
  replayed: boolean;
  /** The first submit's recorded response, when it recorded one. */
  response?: StoredResponse;
}

/**
 * Idempotency-Key semantics (IETF httpapi draft) around {@link SubmitService.submit}: the key is bound
 * to a request id in PostgreSQL ('pending') BEFORE quota is reserved and the workflow started. A
 * retry whose first attempt died after the start (its response lost) re-drives the same request id:
 * the reservation is keyed by request id (reserve answers `exists`) and the workflow id is the
 * request id (a second start is WorkflowExecutionAlreadyStarted), so nothing runs or is charged twice.
 */
export class IdempotentSubmit {
  private readonly staleS: number;

  constructor(private readonly deps: IdempotentSubmitDeps) {
    this.staleS = deps.pendingStaleS;
  }

  async accept(a: IdempotentAttempt): Promise<Accepted> {
    const hash = bodyHash(a.endpoint, a.body);
    // Two rounds cover losing an insert race to a concurrent first use of the same key.
    for (let round = 0; round < 2; round++) {
      const found = await this.deps.store.find(a.tenantId, a.key);
      if (found) return this.existing(found, hash, a);
      const input = await a.prepare();
      const fields = { tenantId: a.tenantId, key: a.key, endpoint: a.endpoint, bodyHash: hash, input };
      if (await this.deps.store.insertPending(fields)) {
        const response = await this.start(a, input);
        this.count(a, 'created');
        return { input, replayed: false, response };
      }
    }
    throw this.inFlight(a);
  }

  /**
   * Records the response to replay for a key marked started without one: by an API version that
   * recorded it in a second write, before `respond` (keys live IDEMPOTENCY_TTL_S).
   */
  async complete(tenantId: string, key: string, requestId: string, response: StoredResponse): Promise<void> {
    await this.deps.store.markStarted(tenantId, key, requestId, response);
  }

  private async existing(found: IdempotencyRecord, hash: string, a: IdempotentAttempt): Promise<Accepted> {
    if (found.bodyHash !== hash) {
      this.count(a, 'mismatch');
      throw new AppError(
        ErrorType.IdempotencyKeyReused,
        `Idempotency-Key was used with a different request body${found.endpoint !== a.endpoint ? ` (on ${found.endpoint})` : ''}; use a new key for a new request`,
        { param: 'Idempotency-Key' },
      );
    }
    if (found.state === 'started') {
      this.count(a, 'replayed');
      return { input: found.input, replayed: true, response: found.response };
    }
    const claimed = await this.deps.store.claimStale(a.tenantId, a.key, this.staleS);
    if (!claimed) throw this.inFlight(a);
    const { input, response } = await this.redrive(claimed, a);
    this.count(a, 'redriven');
    return { input, replayed: true, response };
  }

  /** Finishes a key whose first submit did not: start it if it is not running, else just record it. */
  private async redrive(
    rec: IdempotencyRecord,
    a: IdempotentAttempt,
  ): Promise<{ input: InferenceInput; response?: StoredResponse }> {
    const { workflows, quota, store, logger } = this.deps;
    let input = rec.input;
    if (await workflows.find(input.requestId)) {
      const response = a.respond?.(input);
      await store.markStarted(a.tenantId, a.key, input.requestId, response);
      logger.info(
        { requestId: input.requestId, tenant: a.tenantId },
        'idempotent retry found its request running',
      );
      return { input, response };
    }
    const state = await quota.reservationState(a.tenantId, input.requestId);
    if (state && state !== 'reserved') {
      // The first start failed and gave its reservation back: that id is spent, never started.
      input = { ...(await a.prepare()), requestId: newRequestId() };
      await store.rebind(a.tenantId, a.key, rec.requestId, input);
    }
    logger.info(
      { requestId: input.requestId, tenant: a.tenantId, reservation: state ?? 'none' },
      'idempotent retry re-drives a submit that did not finish',
    );
    return { input, response: await this.start(a, input) };
  }

  /** Submits `input`, then marks the key started with the response to replay (one write). */
  private async start(a: IdempotentAttempt, input: InferenceInput): Promise<StoredResponse | undefined> {
    try {
      await this.deps.submit.submit(input, a.afterReserve ? { afterReserve: a.afterReserve } : {});
    } catch (err) {
      const { store, logger } = this.deps;
      // Refused by quota: nothing was reserved or started, so the key is free for a later retry.
      const settle =
        err instanceof AppError && err.type === ErrorType.QuotaExceeded
          ? store.forget(a.tenantId, a.key, input.requestId)
          : store.release(a.tenantId, a.key, input.requestId);
      await settle.catch((e: unknown) =>
        logger.warn({ err: e, key: a.key }, 'could not release an idempotency key'),
      );
      throw err;
    }
    const response = a.respond?.(input);
    await this.deps.store.markStarted(a.tenantId, a.key, input.requestId, response);
    return response;
  }

  private inFlight(a: IdempotentAttempt): AppError {
    this.count(a, 'in_flight');
    return new AppError(
      ErrorType.Conflict,
      'a request with this Idempotency-Key is still being accepted; retry shortly',
      { param: 'Idempotency-Key', retryAfterS: 1 },
    );
  }

  private count(a: IdempotentAttempt, outcome: IdempotencyOutcome): void {
    this.deps.metrics.submits.inc({ endpoint: a.endpoint, outcome });
  }
}

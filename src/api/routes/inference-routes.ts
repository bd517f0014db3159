import { Router } from 'express';
import { AppError } from '../../errors/app-error';
import type { SubmitService } from '../../inference/submit-service';
import type { WorkflowGateway } from '../../inference/workflow-gateway';
import type { AcceptedIds } from '../../requests/accepted-ids';
import type { RequestRecord, RequestsRepo } from '../../requests/requests-repo';
import { ErrorType } from '../../shared/error-types';
import { isTerminal, type InferenceInput } from '../../shared/types';
import { idempotencyKeyOf } from '../../idempotency/idempotency-key';
import type { IdempotentSubmit } from '../../idempotency/idempotent-submit';
import type { StoredResponse } from '../../idempotency/idempotency-store';
import type { RequestWebhooks } from '../../webhooks/request-webhooks';
import { tenantOf } from '../auth';
import type { RequestFollower } from '../../streams/request-follower';
import type { StreamMetrics } from '../../streams/stream-metrics';
import { submitBodySchema } from '../schemas';
import { findOwned } from './find-owned';
import { awaitEnd } from '../../streams/await-end';
import { QueueInsight } from '../../inference/queue-insight';
import { holdIn, type LiveConnections } from '../live-connections';

/** Longest `Prefer: wait=N` honoured, seconds. */
export const MAX_WAIT_S = 60;

/** Seconds of a `Prefer: wait=N` header (RFC 7240), capped at {@link MAX_WAIT_S}; 0 when absent. */
export function preferWaitS(header: string | undefined): number {
  const m = header ? /(?:^|[,;\s])wait\s*=\s*"?(\d{1,6})"?/i.exec(header) : null;
  return m ? Math.min(Number(m[1]), MAX_WAIT_S) : 0;
}

/** The public shape of a request. */
export function toView(r: RequestRecord): Record<string, unknown> {
  return {
    id: r.id,
    object: 'inference',
    status: r.status,
    model: r.model,
    ...(r.output !== null ? { output: r.output, finish_reason: r.finishReason } : {}),
    ...(r.usage ? { usage: r.usage } : {}),
    ...(r.error ? { error: r.error } : {}),
    estimated_tokens: r.estimatedTokens,
    attempts: r.attempts,
    ...(r.lastError ? { last_error: r.lastError } : {}),
    created_at: r.acceptedAt.toISOString(),
    ...(r.startedAt ? { started_at: r.startedAt.toISOString() } : {}),
    ...(r.completedAt ? { completed_at: r.completedAt.toISOString() } : {}),
  };
}

/** The 202 body of an accepted request (also what an Idempotency-Key replays). */
function acceptedView(input: InferenceInput): Record<string, unknown> {
  return {
    id: input.requestId,
    object: 'inference',
    status: 'queued',
    model: input.model,
    estimated_tokens: input.estimatedTokens,
    usage_estimate: { prompt_tokens: input.promptTokens, max_tokens: input.maxTokens },
    created_at: input.acceptedAt,
  };
}

export function inferenceRoutes(deps: {
  submit: SubmitService;
  /** Idempotency-Key handling; without it the header is ignored. @default none */
  idempotent?: IdempotentSubmit;
  /** `webhook_url` on submit and deliveries on GET; without it `webhook_url` is refused. @default none */
  webhooks?: RequestWebhooks;
  requests: RequestsRepo;
  workflows: WorkflowGateway;
  /** Ids accepted without their row yet: only those are looked up in Temporal. */
  accepted: AcceptedIds;
  follower: RequestFollower;
  /** Position, ETA and diagnosis of requests waiting for a GPU. */
  queueInsight?: QueueInsight;
  streamMetrics: StreamMetrics;
  /** Open waits, ended when their key is revoked or their tenant disabled. @default none */
  live?: LiveConnections;
}): Router {
  const router = Router();

  router.post('/v1/inference', async (req, res) => {
    const tenant = tenantOf(req);
    const key = idempotencyKeyOf(req);
    const body = submitBodySchema.parse(req.body ?? {});
    if (!deps.webhooks && body.webhook_url !== undefined) {
      throw new AppError(ErrorType.InvalidRequest, 'webhooks are not enabled', { param: 'webhook_url' });
    }
    // Nothing costly before the quota decision: the URL's syntax now, its DNS look-up only once a
    // read-only quota check has passed, its row only once quota is reserved (afterReserve).
    deps.webhooks?.checkSyntax(body);
    const webhook = deps.webhooks && body.webhook_url !== undefined ? deps.webhooks : undefined;
    const prepare = async (): Promise<InferenceInput> => {
      const i = await deps.submit.prepare(tenant, body, {
        sideEffectsNext: !!(webhook || (key && deps.idempotent)),
      });
      await webhook?.check(body);
      return i;
    };
    // The target is stored under the request id before the workflow starts, so its end finds it.
    const afterReserve = webhook
      ? async (i: InferenceInput): Promise<void> => webhook.bind(i.requestId, tenant.id, body)
      : undefined;
    let input: InferenceInput;
    let stored: StoredResponse | undefined;
    let replayed = false;
    if (key && deps.idempotent) {
      const accepted = await deps.idempotent.accept({
        tenantId: tenant.id,
        key,
        endpoint: 'POST /v1/inference',
        body,
        prepare,
        afterReserve,
        respond: (i) => ({ status: 202, body: acceptedView(i) }),
      });
      input = accepted.input;
      stored = accepted.response;
      replayed = accepted.replayed;
      if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    } else {
      input = await prepare();
      await deps.submit.submit(input, afterReserve ? { afterReserve } : {});
    }
    const accepted = stored ?? { status: 202, body: acceptedView(input) };
    // A key started by an earlier API version without its response (see IdempotentSubmit.complete).
    if (key && deps.idempotent && !stored) {
      await deps.idempotent.complete(tenant.id, key, input.requestId, accepted);
    }
    // `Prefer: wait=N`: answer 200 with the finished request if it ends within N s, else 202 as
    // usual. The request runs on either way; a client that leaves early cancels nothing.
    const waitS = preferWaitS(req.header('prefer'));
    if (waitS > 0) {
      res.setHeader('Preference-Applied', `wait=${waitS}`);
      const held = holdIn(deps.live, req, 'wait');
      const wait = AbortSignal.any([AbortSignal.timeout(waitS * 1000), held.signal]);
      const row = await awaitEnd(deps, input.requestId, tenant.id, wait, !replayed).finally(held.release);
      // Revoked or disabled while waiting: 401/403 (the request was accepted; a disable cancels it).
      if (held.signal.aborted) throw held.signal.reason;
      if (row) return void res.status(200).location(`/v1/inference/${row.id}`).json(toView(row));
    }
    res.status(accepted.status).location(`/v1/inference/${input.requestId}`).json(accepted.body);
  });

  router.get('/v1/inference/:id', async (req, res) => {
    const found = await findOwned(deps, String(req.params.id), tenantOf(req).id, {
      deliveries: deps.webhooks !== undefined,
    });
    if (found.row) {
      const queue =
        deps.queueInsight && QueueInsight.applies(found.row)
          ? await deps.queueInsight.view(found.row).catch(() => undefined)
          : undefined;
      const webhooks = found.deliveries;
      return void res.json({
        ...toView(found.row),
        ...(queue ? { queue } : {}),
        ...(webhooks?.length ? { webhooks } : {}),
      });
    }
    const wf = found.workflow!;
    res.json({
      id: found.id,
      object: 'inference',
      status: wf.status,
      model: wf.model,
      attempts: 0,
      created_at: wf.startedAt.toISOString(),
    });
  });

  /**
   * Cancels a request at any moment: 202 while it can still be cancelled (the workflow settles it:
   * status `cancelled`, reservation released, output produced so far charged), 409 once terminal.
   */
  router.post('/v1/inference/:id/cancel', async (req, res) => {
    const tenantId = tenantOf(req).id;
    const found = await findOwned(deps, String(req.params.id), tenantId);
    const conflict = (status: string): AppError =>
      new AppError(ErrorType.Conflict, `request ${found.id} already ${status}; nothing to cancel`, {
        param: 'id',
      });
    if (found.row && isTerminal(found.row.status)) throw conflict(found.row.status);
    if (!(await deps.workflows.cancel(found.id))) {
      const row = await deps.requests.get(found.id, tenantId);
      throw conflict(row?.status ?? 'finished');
    }
    res.status(202).json({ id: found.id, object: 'inference', status: 'cancelling' });
  });

  return router;
}

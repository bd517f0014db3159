import { Router } from 'express';
import { AppError } from '../../errors/app-error';
import type { AcceptService } from '../../inference/accept-service';
import type { WorkflowGateway } from '../../inference/workflow-gateway';
import type { AcceptedIds } from '../../requests/accepted-ids';
import type { RequestRecord, RequestsRepo } from '../../requests/requests-repo';
import { ErrorType } from '../../shared/error-types';
import { isTerminal, type InferenceInput } from '../../shared/types';
import { idempotencyKeyOf } from '../../idempotency/idempotency-key';
import type { RequestWebhooks } from '../../webhooks/request-webhooks';
import { tenantOf } from '../auth';
import { submitBodySchema } from '../../inference/submit-schema';
import { findOwned } from './find-owned';
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
    ...(r.stopReason ? { stop_reason: r.stopReason } : {}),
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
  /** The accept path (idempotency, quota, webhooks, submit, wait), shared with the OpenAI routes. */
  accept: AcceptService;
  /** Webhook deliveries on GET. @default none */
  webhooks?: RequestWebhooks;
  requests: RequestsRepo;
  workflows: WorkflowGateway;
  /** Ids accepted without their row yet: only those are looked up in Temporal. */
  accepted: AcceptedIds;
  /** Position, ETA and diagnosis of requests waiting for a GPU. */
  queueInsight?: QueueInsight;
  /** Open waits, ended when their key is revoked or their tenant disabled. @default none */
  live?: LiveConnections;
}): Router {
  const router = Router();

  router.post('/v1/inference', async (req, res) => {
    const tenant = tenantOf(req);
    const idempotencyKey = idempotencyKeyOf(req);
    const body = submitBodySchema.parse(req.body ?? {});
    const accepted = await deps.accept.accept({
      tenant,
      idempotencyKey,
      endpoint: 'POST /v1/inference',
      body,
      submit: body,
      respond: (i) => ({ status: 202, body: acceptedView(i) }),
    });
    const { input } = accepted;
    if (accepted.replayed) res.setHeader('Idempotent-Replayed', 'true');
    const response = accepted.response ?? { status: 202, body: acceptedView(input) };
    // `Prefer: wait=N`: answer 200 with the finished request if it ends within N s, else 202 as
    // usual. The request runs on either way; a client that leaves early cancels nothing.
    const waitS = preferWaitS(req.header('prefer'));
    if (waitS > 0) {
      res.setHeader('Preference-Applied', `wait=${waitS}`);
      const held = holdIn(deps.live, req, 'wait');
      const wait = AbortSignal.any([AbortSignal.timeout(waitS * 1000), held.signal]);
      const row = await deps.accept.wait(accepted, wait).finally(held.release);
      // Revoked or disabled while waiting: 401/403 (the request was accepted; a disable cancels it).
      if (held.signal.aborted) throw held.signal.reason;
      if (row) return void res.status(200).location(`/v1/inference/${row.id}`).json(toView(row));
    }
    res.status(response.status).location(`/v1/inference/${input.requestId}`).json(response.body);
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

import { Router } from 'express';
import { AppError } from '../../errors/app-error';
import type { SubmitService } from '../../inference/submit-service';
import type { WorkflowGateway, WorkflowView } from '../../inference/workflow-gateway';
import type { RequestRecord, RequestsRepo } from '../../requests/requests-repo';
import { ErrorType } from '../../shared/error-types';
import { isTerminal } from '../../shared/types';
import { tenantOf } from '../auth';
import { requestIdSchema, submitBodySchema } from '../schemas';

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

/** The request if it exists and belongs to the caller; 404 otherwise (another tenant's id included). */
async function findOwned(
  deps: { requests: RequestsRepo; workflows: WorkflowGateway },
  rawId: string,
  tenantId: string,
): Promise<{ id: string; row?: RequestRecord; workflow?: WorkflowView }> {
  const notFound = new AppError(ErrorType.NotFound, `no request ${rawId}`, { param: 'id' });
  const id = requestIdSchema.safeParse(rawId);
  if (!id.success) throw notFound;
  const row = await deps.requests.get(id.data, tenantId);
  if (row) return { id: id.data, row };
  // Accepted but its first activity has not written the row yet: Temporal knows it.
  const wf = await deps.workflows.find(id.data);
  if (!wf || wf.tenantId !== tenantId) throw notFound;
  return { id: id.data, workflow: wf };
}

export function inferenceRoutes(deps: {
  submit: SubmitService;
  requests: RequestsRepo;
  workflows: WorkflowGateway;
}): Router {
  const router = Router();

  router.post('/v1/inference', async (req, res) => {
    const tenant = tenantOf(req);
    const body = submitBodySchema.parse(req.body ?? {});
    const input = await deps.submit.prepare(tenant, body);
    await deps.submit.submit(input);
    res
      .status(202)
      .location(`/v1/inference/${input.requestId}`)
      .json({
        id: input.requestId,
        object: 'inference',
        status: 'queued',
        model: input.model,
        estimated_tokens: input.estimatedTokens,
        usage_estimate: { prompt_tokens: input.promptTokens, max_tokens: input.maxTokens },
        created_at: input.acceptedAt,
      });
  });

  router.get('/v1/inference/:id', async (req, res) => {
    const found = await findOwned(deps, String(req.params.id), tenantOf(req).id);
    if (found.row) return void res.json(toView(found.row));
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

import { AppError } from '../../errors/app-error';
import type { WorkflowGateway, WorkflowView } from '../../inference/workflow-gateway';
import type { RequestRecord, RequestsRepo } from '../../requests/requests-repo';
import { ErrorType } from '../../shared/error-types';
import type { DeliveryView } from '../../webhooks/webhooks-repo';
import { requestIdSchema } from '../schemas';

/** A request of the caller: its row, or (accepted, row not written yet) its workflow. */
export interface OwnedRequest {
  id: string;
  row?: RequestRecord;
  workflow?: WorkflowView;
  /** The row's webhook deliveries, when asked for (read with the row: none before it is terminal). */
  deliveries?: DeliveryView[];
}

/** The request if it exists and belongs to the caller; 404 otherwise (another tenant's id included). */
export async function findOwned(
  deps: { requests: RequestsRepo; workflows: WorkflowGateway },
  rawId: string,
  tenantId: string,
  opts: { deliveries?: boolean } = {},
): Promise<OwnedRequest> {
  // Made only when thrown: an error captures a stack trace, 3 % of a status read's CPU when it was
  // made on every call.
  const notFound = (): AppError => new AppError(ErrorType.NotFound, `no request ${rawId}`, { param: 'id' });
  const id = requestIdSchema.safeParse(rawId);
  if (!id.success) throw notFound();
  if (opts.deliveries) {
    const found = await deps.requests.getWithDeliveries(id.data, tenantId);
    if (found) return { id: id.data, row: found.record, deliveries: found.deliveries };
  } else {
    const row = await deps.requests.get(id.data, tenantId);
    if (row) return { id: id.data, row };
  }
  // Accepted but its first activity has not written the row yet: Temporal knows it.
  const wf = await deps.workflows.find(id.data);
  if (!wf || wf.tenantId !== tenantId) throw notFound();
  return { id: id.data, workflow: wf };
}

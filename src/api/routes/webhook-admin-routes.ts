import { Router } from 'express';
import { z } from 'zod';
import { AppError } from '../../errors/app-error';
import type { Logger } from '../../observability/logger';
import { ErrorType } from '../../shared/error-types';
import type { TenantsRepo } from '../../tenants/tenants-repo';
import type { RequestWebhooks } from '../../webhooks/request-webhooks';
import { WEBHOOK_EVENTS } from '../../webhooks/webhook-events';
import { endpointEventsSchema, type EndpointEvent } from '../../webhooks/openai-events';
import type { WebhookEndpoint } from '../../webhooks/webhooks-repo';
import { tenantParam } from './admin-common';

/** Dependencies of {@link webhookAdminRoutes}. */
export interface WebhookAdminDeps {
  webhooks: RequestWebhooks;
  tenants: Pick<TenantsRepo, 'get'>;
  logger: Logger;
}

const ENDPOINT_ID = /^whe_[A-Za-z0-9]{1,64}$/;

const createBody = z.strictObject({
  url: z.string().min(1).max(2048),
  /** Native events (`completed`...) and OpenAI's (`response.completed`, `batch.completed`...). */
  events: endpointEventsSchema.optional(),
});

const view = (e: WebhookEndpoint): Record<string, unknown> => ({
  id: e.id,
  object: 'webhook_endpoint',
  url: e.url,
  events: e.events,
  created_at: e.createdAt.toISOString(),
});

/**
 * A tenant's webhook endpoints: `POST/GET/DELETE /admin/tenants/:id/webhooks`. Every terminal event
 * of the tenant's requests that an endpoint subscribed to is delivered to it, signed with its
 * secret (shown once, at creation): native `inference.*` events, and OpenAI-shaped ones
 * (`response.*` of Responses API responses, `batch.*` of batches) for the endpoints that name them. `POST /admin/tenants/:id/webhooks/request-secret` rotates the
 * secret that signs deliveries to a request's own `webhook_url`, and shows it once.
 */
export function webhookAdminRoutes(deps: WebhookAdminDeps): Router {
  const router = Router();
  const tenantOf = async (req: Parameters<typeof tenantParam>[0]): Promise<string> => {
    const id = tenantParam(req);
    if (!(await deps.tenants.get(id)))
      throw new AppError(ErrorType.NotFound, `no tenant ${id}`, { param: 'id' });
    return id;
  };

  router.post('/admin/tenants/:id/webhooks', async (req, res) => {
    const tenantId = await tenantOf(req);
    const body = createBody.parse(req.body ?? {});
    await deps.webhooks.checkUrl(body.url, 'url');
    const events: EndpointEvent[] = body.events ?? [...WEBHOOK_EVENTS];
    const e = await deps.webhooks.repo.createEndpoint(tenantId, body.url, events);
    deps.logger.info({ tenant: tenantId, endpoint: e.id, url: e.url, events }, 'webhook endpoint created');
    res.status(201).json({ ...view(e), secret: e.secret });
  });

  router.get('/admin/tenants/:id/webhooks', async (req, res) => {
    const tenantId = await tenantOf(req);
    res.json({ object: 'list', data: (await deps.webhooks.repo.listEndpoints(tenantId)).map(view) });
  });

  router.delete('/admin/tenants/:id/webhooks/:webhookId', async (req, res) => {
    const tenantId = await tenantOf(req);
    const id = String(req.params.webhookId);
    // Only an id of the form createEndpoint makes is looked up (a NUL would be a PostgreSQL error).
    if (!ENDPOINT_ID.test(id) || !(await deps.webhooks.repo.deleteEndpoint(tenantId, id))) {
      throw new AppError(ErrorType.NotFound, `no webhook endpoint ${id}`, { param: 'webhookId' });
    }
    deps.logger.info({ tenant: tenantId, endpoint: id }, 'webhook endpoint deleted');
    res.status(204).end();
  });

  router.post('/admin/tenants/:id/webhooks/request-secret', async (req, res) => {
    const tenantId = await tenantOf(req);
    const secret = await deps.webhooks.repo.rotateRequestSecret(tenantId);
    deps.logger.info({ tenant: tenantId }, 'request webhook secret rotated');
    res.status(201).json({ object: 'webhook_request_secret', secret });
  });

  return router;
}

import { z } from 'zod';
import { tenantIdSchema } from '../../../tenants/tenant-id';
import { endpointEventsSchema } from '../../../webhooks/openai-events';
import { defineRoutes, type RouteDoc } from '../route-doc';
import { adminObject } from './views';

const tag = 'Admin';
const tenant = z.object({ id: tenantIdSchema });
const admin = (d: Omit<RouteDoc, 'tag' | 'auth'>): RouteDoc => ({ ...d, tag, auth: 'admin' });

/** src/api/routes/webhook-admin-routes.ts (body as that file's createBody; details in docs/admin.md). */
export const webhookRouteDocs = defineRoutes([
  admin({
    method: 'post',
    path: '/admin/tenants/:id/webhooks',
    summary: 'Add a webhook endpoint (its signing secret is shown once)',
    params: tenant,
    body: z.strictObject({ url: z.string().min(1).max(2048), events: endpointEventsSchema.optional() }),
    responses: {
      201: { description: 'The endpoint with its secret', schema: adminObject('webhook_endpoint') },
    },
    errors: [404],
  }),
  admin({
    method: 'get',
    path: '/admin/tenants/:id/webhooks',
    summary: 'A tenant’s webhook endpoints',
    params: tenant,
    responses: { 200: { description: 'The endpoints', schema: adminObject('list of webhook_endpoint') } },
    errors: [404],
  }),
  admin({
    method: 'delete',
    path: '/admin/tenants/:id/webhooks/:webhookId',
    summary: 'Remove a webhook endpoint',
    params: z.object({ id: tenantIdSchema, webhookId: z.string() }),
    responses: { 204: { description: 'Removed' } },
    errors: [404],
  }),
  admin({
    method: 'post',
    path: '/admin/tenants/:id/webhooks/request-secret',
    summary: 'New signing secret of the tenant’s per-request `webhook_url` targets (shown once)',
    params: tenant,
    responses: { 201: { description: 'The secret', schema: adminObject('webhook_request_secret') } },
    errors: [404],
  }),
]);

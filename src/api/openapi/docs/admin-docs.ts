import { z } from 'zod';
import { adminUsageQuerySchema, auditQuerySchema, tenantListQuerySchema } from '../../query-schemas';
import {
  createKeySchema,
  createTenantSchema,
  rotateKeySchema,
  updateTenantSchema,
} from '../../routes/admin-schemas';
import { tenantIdSchema } from '../../../tenants/tenant-id';
import { limitsOverrideSchema } from '../../../tenants/limits';
import { defineRoutes, type RouteDoc } from '../route-doc';
import { adminObject, tenantLimitsView, usageView } from './views';

const tag = 'Admin';
const tenant = z.object({ id: tenantIdSchema });
const key = z.object({ id: tenantIdSchema, keyId: z.string() });
const admin = (d: Omit<RouteDoc, 'tag' | 'auth'>): RouteDoc => ({ ...d, tag, auth: 'admin' });
const ok = (what: string, status = 200) => ({ [status]: { description: what, schema: adminObject(what) } });

/** src/api/routes/admin-*-routes.ts and the admin part of quota-routes.ts (details in docs/admin.md). */
export const adminRouteDocs = defineRoutes([
  admin({
    method: 'put',
    path: '/admin/tenants/:id/limits',
    summary: 'Override a tenant’s limits',
    params: tenant,
    body: limitsOverrideSchema,
    responses: { 200: { description: 'Effective limits', schema: tenantLimitsView } },
    errors: [404],
  }),
  admin({
    method: 'get',
    path: '/admin/tenants/:id/limits',
    summary: 'A tenant’s effective limits',
    params: tenant,
    responses: { 200: { description: 'Effective limits', schema: tenantLimitsView } },
    errors: [404],
  }),
  admin({
    method: 'post',
    path: '/admin/tenants',
    summary: 'Create a tenant',
    body: createTenantSchema,
    responses: ok('The tenant', 201),
    errors: [409],
  }),
  admin({
    method: 'get',
    path: '/admin/tenants',
    summary: 'List tenants',
    query: tenantListQuerySchema,
    responses: ok('A page of tenants'),
  }),
  admin({
    method: 'get',
    path: '/admin/tenants/:id',
    summary: 'One tenant',
    params: tenant,
    responses: ok('The tenant'),
    errors: [404],
  }),
  admin({
    method: 'patch',
    path: '/admin/tenants/:id',
    summary: 'Change a tenant’s name, tier or disabled flag',
    params: tenant,
    body: updateTenantSchema,
    responses: ok('The tenant'),
    errors: [404],
  }),
  admin({
    method: 'post',
    path: '/admin/tenants/:id/disable',
    summary: 'Disable a tenant (its keys stop working at once)',
    params: tenant,
    responses: ok('The tenant'),
    errors: [404],
  }),
  admin({
    method: 'post',
    path: '/admin/tenants/:id/enable',
    summary: 'Enable a tenant',
    params: tenant,
    responses: ok('The tenant'),
    errors: [404],
  }),
  admin({
    method: 'post',
    path: '/admin/tenants/:id/keys',
    summary: 'Create an API key (the plaintext is shown once)',
    params: tenant,
    body: createKeySchema,
    responses: ok('The key with its plaintext', 201),
    errors: [404],
  }),
  admin({
    method: 'get',
    path: '/admin/tenants/:id/keys',
    summary: 'A tenant’s API keys',
    params: tenant,
    responses: ok('The keys'),
    errors: [404],
  }),
  admin({
    method: 'post',
    path: '/admin/tenants/:id/keys/:keyId/revoke',
    summary: 'Revoke a key',
    params: key,
    responses: ok('The key'),
    errors: [404],
  }),
  admin({
    method: 'post',
    path: '/admin/tenants/:id/keys/:keyId/rotate',
    summary: 'Replace a key, the old one working for a grace period',
    params: key,
    body: rotateKeySchema,
    responses: ok('The new key with its plaintext', 201),
    errors: [404],
  }),
  admin({
    method: 'get',
    path: '/admin/usage',
    summary: 'Usage of all tenants (JSON, or CSV with `Accept: text/csv`)',
    query: adminUsageQuerySchema,
    responses: { 200: { description: 'Usage', schema: usageView } },
  }),
  admin({
    method: 'get',
    path: '/admin/audit-log',
    summary: 'The admin action log, newest first',
    query: auditQuerySchema,
    responses: ok('A page of actions'),
  }),
]);

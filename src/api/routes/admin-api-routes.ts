import { Router } from 'express';
import type { Logger } from '../../observability/logger';
import type { QuotaStore } from '../../quota/quota-store';
import type { UsageRepo } from '../../requests/usage-repo';
import type { AdminAuditRepo } from '../../tenants/admin-audit-repo';
import type { ApiKeysRepo } from '../../tenants/api-keys-repo';
import type { TenantAdminRepo } from '../../tenants/tenant-admin-repo';
import type { TenantShutdown } from '../../tenants/tenant-shutdown';
import type { KeyInvalidator } from '../key-invalidation';
import { adminKeyRoutes } from './admin-key-routes';
import { adminTenantRoutes } from './admin-tenant-routes';
import { adminUsageRoutes } from './admin-usage-routes';

/** What the admin API (tenants, keys, usage, action log) needs. */
export interface AdminApiDeps {
  tenantAdmin: TenantAdminRepo;
  keys: ApiKeysRepo;
  audit: AdminAuditRepo;
  usage: UsageRepo;
  quota: QuotaStore;
  /** Tells every API replica to drop cached key lookups (revoke, rotate, disable). */
  invalidator: KeyInvalidator;
  /** Cancels a disabled tenant's requests and batches. @default none (disable only refuses its keys) */
  shutdown?: Pick<TenantShutdown, 'cancelWork'>;
  logger: Logger;
}

/** Every /admin route of the admin API; mount behind adminAuth, before quota-routes' adminRoutes. */
export function adminApiRoutes(deps: AdminApiDeps): Router {
  const router = Router();
  router.use(adminTenantRoutes(deps));
  router.use(adminKeyRoutes(deps));
  router.use(adminUsageRoutes(deps));
  return router;
}

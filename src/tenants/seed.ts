import type { Env } from '../config/schema';
import type { TenantsRepo } from './tenants-repo';

/** The development tenant every fresh development stack has. */
export const DEV_TENANT = { id: 'demo', name: 'Demo tenant', tier: 'standard' } as const;

/**
 * In development, creates tenant `demo` and registers DEV_API_KEY for it (stored hashed); safe to
 * repeat. Outside development it seeds nothing (the config refuses a DEV_API_KEY there).
 * @returns whether the tenant was seeded
 */
export async function seedDevTenant(
  tenants: TenantsRepo,
  cfg: Pick<Env, 'APP_ENV' | 'DEV_API_KEY'>,
): Promise<boolean> {
  if (cfg.APP_ENV !== 'development' || !cfg.DEV_API_KEY) return false;
  await tenants.ensure(DEV_TENANT);
  await tenants.addApiKey(DEV_TENANT.id, cfg.DEV_API_KEY, 'DEV_API_KEY');
  return true;
}

import type { TenantsRepo } from './tenants-repo';

/** The development tenant every fresh stack has. */
export const DEV_TENANT = { id: 'demo', name: 'Demo tenant', tier: 'standard' } as const;

/** Creates tenant `demo` and registers `apiKey` for it (stored hashed); safe to repeat. */
export async function seedDevTenant(tenants: TenantsRepo, apiKey: string): Promise<void> {
  await tenants.ensure(DEV_TENANT);
  await tenants.addApiKey(DEV_TENANT.id, apiKey, 'DEV_API_KEY');
}

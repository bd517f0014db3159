import { z } from 'zod';
import { storable } from '../../db/storable-text';
import { tenantIdSchema } from '../../tenants/tenant-id';

const name = storable(z.string().trim().min(1).max(200));
const tier = storable(z.string().min(1).max(64));

/** Body of POST /admin/tenants. */
export const createTenantSchema = z.strictObject({
  id: tenantIdSchema,
  name,
  tier: tier.default('standard'),
});

/** Body of PATCH /admin/tenants/:id: any of name, tier, disabled. */
export const updateTenantSchema = z
  .strictObject({ name: name.optional(), tier: tier.optional(), disabled: z.boolean().optional() })
  .refine((o) => Object.keys(o).length > 0, { message: 'give at least one of name, tier, disabled' });

const label = storable(z.string().max(200));

/** Body of POST /admin/tenants/:id/keys. */
export const createKeySchema = z.strictObject({ label: label.default('') });

/** Longest grace period of a rotated key, seconds (7 days). */
export const MAX_GRACE_S = 604_800;

/** Body of POST /admin/tenants/:id/keys/:keyId/rotate. */
export const rotateKeySchema = z.strictObject({
  /** Seconds the old key keeps working. @default 0 (revoked at once) */
  grace_s: z.number().int().min(0).max(MAX_GRACE_S).default(0),
  /** Label of the new key. @default the old key's label */
  label: label.optional(),
});

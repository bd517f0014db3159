import { z } from 'zod';

/** The limits every tenant has; 0 means "nothing allowed". */
export interface TenantLimits {
  requestsPerMinute: number;
  requestsPerDay: number;
  tokensPerDay: number;
  tokensPerMonth: number;
  maxInFlight: number;
}

export const LIMIT_NAMES = [
  'requests_per_minute',
  'requests_per_day',
  'tokens_per_day',
  'tokens_per_month',
  'max_in_flight',
] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

/** Largest value of a PostgreSQL `integer` column (requests_per_minute, requests_per_day, max_in_flight). */
export const PG_INT4_MAX = 2_147_483_647;

/**
 * Largest value of the `bigint` token columns that the API accepts: bigint holds 2^63-1, but limits
 * travel as JavaScript numbers and Lua doubles, exact only up to 2^53-1.
 */
export const TOKEN_LIMIT_MAX = Number.MAX_SAFE_INTEGER;

/** Every limit's largest value, from its column type (src/db/migrations/001_init.sql). */
export const LIMIT_MAX: Record<LimitName, number> = {
  requests_per_minute: PG_INT4_MAX,
  requests_per_day: PG_INT4_MAX,
  max_in_flight: PG_INT4_MAX,
  tokens_per_day: TOKEN_LIMIT_MAX,
  tokens_per_month: TOKEN_LIMIT_MAX,
};

// A value over the column's range used to reach PostgreSQL and come back as a 500.
const limitValue = (name: LimitName): z.ZodNullable<z.ZodNumber> =>
  z
    .number()
    .int()
    .min(0)
    .max(LIMIT_MAX[name], { message: `must be at most ${LIMIT_MAX[name]}` })
    .nullable();

/** Body of PUT /admin/tenants/:id/limits: any subset; null clears an override (back to the tier default). */
export const limitsOverrideSchema = z
  .strictObject({
    requests_per_minute: limitValue('requests_per_minute').optional(),
    requests_per_day: limitValue('requests_per_day').optional(),
    tokens_per_day: limitValue('tokens_per_day').optional(),
    tokens_per_month: limitValue('tokens_per_month').optional(),
    max_in_flight: limitValue('max_in_flight').optional(),
  })
  .refine((o) => Object.keys(o).length > 0, { message: 'give at least one limit' });
export type LimitsOverride = z.infer<typeof limitsOverrideSchema>;

export function limitsToWire(l: TenantLimits): Record<LimitName, number> {
  return {
    requests_per_minute: l.requestsPerMinute,
    requests_per_day: l.requestsPerDay,
    tokens_per_day: l.tokensPerDay,
    tokens_per_month: l.tokensPerMonth,
    max_in_flight: l.maxInFlight,
  };
}

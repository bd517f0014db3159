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

const limitValue = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable();

/** Body of PUT /admin/tenants/:id/limits: any subset; null clears an override (back to the tier default). */
export const limitsOverrideSchema = z
  .strictObject({
    requests_per_minute: limitValue.optional(),
    requests_per_day: limitValue.optional(),
    tokens_per_day: limitValue.optional(),
    tokens_per_month: limitValue.optional(),
    max_in_flight: limitValue.optional(),
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

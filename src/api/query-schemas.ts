import { z } from 'zod';
import { AppError } from '../errors/app-error';
import { ErrorType } from '../shared/error-types';
import { REQUEST_STATUSES } from '../shared/types';
import { USAGE_GROUPS, type UsageGroup } from '../requests/usage-repo';
import { decodeCursor } from '../requests/list-cursor';
import { storable } from '../db/storable-text';
import { tenantIdSchema } from '../tenants/tenant-id';

/** Longest usage range, days: bounds the rows one query sums. */
export const MAX_USAGE_RANGE_DAYS = 400;
/** Usage range when `from` is not given, days before `to`. */
export const DEFAULT_USAGE_RANGE_DAYS = 30;
const DAY_MS = 86_400_000;

/**
 * Parses a query string or a JSON body; an unknown field is a 400 naming it (zod's own issue for it
 * has an empty path, so the error middleware could not).
 */
export function parseStrict<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  if (issue?.code === 'unrecognized_keys') {
    const param = issue.keys[0]!;
    throw new AppError(ErrorType.InvalidRequest, `${param}: unknown field`, { param });
  }
  throw r.error;
}

const limit = (max: number, dflt: number) =>
  z
    .string()
    .regex(/^\d{1,6}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(max))
    .default(dflt);

/** An instant: `2026-01-31` (UTC midnight) or an ISO 8601 date-time with a zone. */
const instant = z
  .string()
  .refine((s) => /^\d{4}-\d{2}-\d{2}$/.test(s) || z.iso.datetime({ offset: true }).safeParse(s).success, {
    message: 'must be a date (2026-01-31) or an ISO 8601 date-time with a zone (2026-01-31T12:00:00Z)',
  })
  .transform((s) => new Date(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : s))
  .refine((d) => !Number.isNaN(d.getTime()), { message: 'not a valid date' });

const cursor = z
  .string()
  .transform((s, ctx) => {
    const p = decodeCursor(s);
    if (!p) ctx.addIssue({ code: 'custom', message: 'not a cursor of this list (use next_cursor as given)' });
    return p!;
  })
  .optional();

/** GET /v1/inference. */
export const listQuerySchema = z.strictObject({
  status: z.enum(REQUEST_STATUSES).optional(),
  model: storable(z.string().min(1).max(128)).optional(),
  created_after: instant.optional(),
  limit: limit(100, 20),
  cursor,
});

/** A comma-separated list of groups; an issue names the whole parameter, not an element. */
const groups = (allowed: readonly UsageGroup[]) =>
  z.string().transform((s, ctx) => {
    const list = s.split(',');
    const bad = list.find((g) => !(allowed as readonly string[]).includes(g));
    if (bad !== undefined)
      ctx.addIssue({ code: 'custom', message: `"${bad}" is not one of ${allowed.join(', ')}` });
    else if (new Set(list).size !== list.length)
      ctx.addIssue({ code: 'custom', message: 'a group is named twice' });
    return list as UsageGroup[];
  });

/** Fills `from`/`to` defaults and bounds the range; issues name `from` or `to`. */
function usageRange<T extends { from?: Date; to?: Date }>(
  q: T,
  ctx: z.RefinementCtx,
): T & { from: Date; to: Date } {
  const to = q.to ?? new Date();
  const from = q.from ?? new Date(to.getTime() - DEFAULT_USAGE_RANGE_DAYS * DAY_MS);
  if (from >= to) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
  else if (to.getTime() - from.getTime() > MAX_USAGE_RANGE_DAYS * DAY_MS)
    ctx.addIssue({
      code: 'custom',
      path: ['from'],
      message: `the range from..to is over ${MAX_USAGE_RANGE_DAYS} days; ask for a shorter one`,
    });
  return { ...q, from, to };
}

/** GET /v1/usage. */
export const usageQuerySchema = z
  .strictObject({
    from: instant.optional(),
    to: instant.optional(),
    group_by: groups(['day', 'model']).default(['day']),
  })
  .transform(usageRange);

/** GET /admin/usage: grouped by tenant first, optionally one tenant only. */
export const adminUsageQuerySchema = z
  .strictObject({
    from: instant.optional(),
    to: instant.optional(),
    group_by: groups(USAGE_GROUPS).default(['tenant', 'day']),
    tenant: tenantIdSchema.optional(),
  })
  .transform((q, ctx) => {
    const r = usageRange(q, ctx);
    return { ...r, group_by: ['tenant' as const, ...r.group_by.filter((g) => g !== 'tenant')] };
  });

/** GET /admin/audit-log. */
export const auditQuerySchema = z.strictObject({
  tenant: tenantIdSchema.optional(),
  action: z
    .string()
    .regex(/^[a-z_]+\.[a-z_]+$/, 'must be an action name like api_key.revoke')
    .optional(),
  limit: limit(500, 50),
  cursor: z
    .string()
    .regex(/^\d{1,18}$/, 'not a cursor of this list (use next_cursor as given)')
    .transform(Number)
    .optional(),
});

/** GET /admin/tenants. */
export const tenantListQuerySchema = z.strictObject({
  limit: limit(1000, 100),
  cursor: tenantIdSchema.optional(),
});

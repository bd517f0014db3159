import type { Request } from 'express';
import { z } from 'zod';
import { AppError } from '../../errors/app-error';
import type { Logger } from '../../observability/logger';
import { ErrorType } from '../../shared/error-types';
import type { AdminAction } from '../../tenants/admin-audit-repo';
import type { KeyRefusal } from '../../tenants/api-keys-repo';
import type { TenantRefusal } from '../../tenants/tenant-admin-repo';
import { tenantIdSchema } from '../../tenants/tenant-id';

/** Header naming the operator behind an admin call, for the action log. @default admin */
export const ACTOR_HEADER = 'x-admin-actor';
const actorSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.@:+-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . @ : + -');

/** Who the action log says acted: `X-Admin-Actor` if given (all holders share one admin token). */
export function actorOf(req: Request): string {
  const h = req.header(ACTOR_HEADER);
  if (h === undefined) return 'admin';
  const r = actorSchema.safeParse(h);
  if (!r.success)
    throw new AppError(ErrorType.InvalidRequest, `X-Admin-Actor: ${r.error.issues[0]!.message}`, {
      param: 'X-Admin-Actor',
    });
  return r.data;
}

const keyIdSchema = z.string().regex(/^key_[A-Za-z0-9-]{1,64}$/, 'not a key id');

/** A path parameter checked by its schema: 404 naming it when malformed (no such thing can exist). */
function pathParam(req: Request, name: string, schema: z.ZodString, what: string): string {
  const raw = String(req.params[name]);
  if (!schema.safeParse(raw).success)
    throw new AppError(ErrorType.NotFound, `no ${what} ${raw}`, { param: name });
  return raw;
}

export const tenantParam = (req: Request): string => pathParam(req, 'id', tenantIdSchema, 'tenant');
export const keyParam = (req: Request): string => pathParam(req, 'keyId', keyIdSchema, 'key');

/** The HTTP error of a refused admin change. */
export function refusal(
  r: KeyRefusal | TenantRefusal,
  ids: { tenant: string; key?: string; tier?: string },
): AppError {
  switch (r) {
    case 'no_tenant':
      return new AppError(ErrorType.NotFound, `no tenant ${ids.tenant}`, { param: 'id' });
    case 'no_key':
      return new AppError(ErrorType.NotFound, `no key ${ids.key} of tenant ${ids.tenant}`, {
        param: 'keyId',
      });
    case 'revoked':
      return new AppError(ErrorType.Conflict, `key ${ids.key} is already revoked`, { param: 'keyId' });
    case 'exists':
      return new AppError(ErrorType.Conflict, `tenant ${ids.tenant} already exists`, { param: 'id' });
    case 'no_tier':
      return new AppError(ErrorType.InvalidRequest, `tier: no tier ${ids.tier}`, { param: 'tier' });
  }
}

/** The log line of an admin action (the same facts as its action log entry, never a secret). */
export function logAction(logger: Logger, a: AdminAction): void {
  logger.info(
    { actor: a.actor, action: a.action, tenant: a.tenantId, target: a.target, params: a.params },
    'admin action',
  );
}

import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError } from '../errors/app-error';
import { ErrorType } from '../shared/error-types';
import { hashApiKey } from '../tenants/api-key';
import type { ActiveKey, TenantWithLimits } from '../tenants/tenants-repo';
import type { ApiKeyCache } from './key-cache';

/** Looks a key up by its SHA-256 digest; the API caches answers (ApiKeyCache). */
export interface TenantLookup {
  findApiKey(keyHash: Buffer): Promise<ActiveKey | undefined>;
}

declare module 'express-serve-static-core' {
  interface Request {
    tenant?: TenantWithLimits;
  }
}

function bearer(req: Request): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h);
  return m?.[1]?.trim();
}

/**
 * Tenant authentication by `Authorization: Bearer <api key>`; 401 when missing, wrong, revoked or
 * of a disabled tenant. `keys` caches the lookups; invalidations empty it.
 */
export function tenantAuth(lookup: TenantLookup, keys: ApiKeyCache): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    const key = bearer(req);
    if (!key)
      return next(
        new AppError(ErrorType.Authentication, 'missing API key: send Authorization: Bearer <key>'),
      );
    const hash = hashApiKey(key);
    const digest = hash.toString('hex');
    const hit = keys.get(digest);
    const found = hit
      ? Promise.resolve(hit.key)
      : lookup.findApiKey(hash).then((k) => {
          keys.set(digest, k);
          return k;
        });
    found
      .then((k) => {
        if (!k) throw new AppError(ErrorType.Authentication, 'invalid API key');
        if (k.tenant.disabled) throw new AppError(ErrorType.PermissionDenied, 'tenant is disabled');
        req.tenant = k.tenant;
        next();
      })
      .catch(next);
  };
}

/** Operator authentication by `Authorization: Bearer <ADMIN_TOKEN>`. */
export function adminAuth(adminToken: string): RequestHandler {
  const expected = Buffer.from(adminToken);
  return (req, _res, next) => {
    const given = Buffer.from(bearer(req) ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return next(new AppError(ErrorType.Authentication, 'missing or invalid admin token'));
    }
    next();
  };
}

/** The authenticated tenant (routes behind tenantAuth only). */
export function tenantOf(req: Request): TenantWithLimits {
  if (!req.tenant) throw new AppError(ErrorType.Authentication, 'not authenticated');
  return req.tenant;
}

import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError } from '../errors/app-error';
import { ErrorType } from '../shared/error-types';
import type { TenantWithLimits } from '../tenants/tenants-repo';

/** Looks a key up; the API caches answers for a short TTL so the hot path rarely hits PostgreSQL. */
export interface TenantLookup {
  findByApiKey(key: string): Promise<TenantWithLimits | undefined>;
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

/** Tenant authentication by `Authorization: Bearer <api key>`; 401 when missing or wrong. */
export function tenantAuth(lookup: TenantLookup, cacheTtlS: number): RequestHandler {
  const cache = new Map<string, { tenant: TenantWithLimits | undefined; until: number }>();
  return (req: Request, _res: Response, next: NextFunction) => {
    const key = bearer(req);
    if (!key)
      return next(
        new AppError(ErrorType.Authentication, 'missing API key: send Authorization: Bearer <key>'),
      );
    const hit = cache.get(key);
    const now = Date.now();
    const found = hit && hit.until > now ? Promise.resolve(hit.tenant) : lookup.findByApiKey(key);
    found
      .then((tenant) => {
        if (!hit || hit.until <= now) {
          if (cache.size > 10_000) cache.clear();
          cache.set(key, { tenant, until: now + cacheTtlS * 1000 });
        }
        if (!tenant || tenant.disabled) throw new AppError(ErrorType.Authentication, 'invalid API key');
        req.tenant = tenant;
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

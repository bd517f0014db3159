import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError } from '../errors/app-error';
import { ErrorType } from '../shared/error-types';
import { hashApiKey } from '../tenants/api-key';
import type { ActiveKey, TenantWithLimits } from '../tenants/tenants-repo';
import { LookupGateFull, type FailedAuthLimiter, type LookupGate } from './auth-limiter';
import type { AuthMetrics } from './auth-metrics';
import type { ApiKeyCache } from './key-cache';

/** Looks a key up by its SHA-256 digest; the API caches answers (ApiKeyCache). */
export interface TenantLookup {
  findApiKey(keyHash: Buffer): Promise<ActiveKey | undefined>;
}

declare module 'express-serve-static-core' {
  interface Request {
    tenant?: TenantWithLimits;
    /** The key the request authenticated with (its open streams end when it is revoked). */
    apiKey?: { id: string; expiresAt: Date | null };
  }
}

function bearer(req: Request): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h);
  return m?.[1]?.trim();
}

/** Dependencies of {@link KeyAuthenticator}. */
export interface KeyAuthDeps {
  lookup: TenantLookup;
  cache: ApiKeyCache;
  /** Failed authentications per source. */
  limiter: FailedAuthLimiter;
  /** Key look-ups in PostgreSQL at once. */
  gate: LookupGate;
  metrics: AuthMetrics;
}

/**
 * Tenant authentication by API key, bounded against floods of wrong keys: a valid key is answered
 * from its cache; a source whose failures are over its limit gets 429 for any other key without a
 * PostgreSQL query; a wrong key is answered from the miss cache; the rest queue for a bounded
 * number of look-ups (503 when that queue is full).
 */
export class KeyAuthenticator {
  constructor(private readonly deps: KeyAuthDeps) {}

  private gauge(): void {
    const { cache, limiter, metrics } = this.deps;
    metrics.cacheEntries.set({ kind: 'valid' }, cache.size);
    metrics.cacheEntries.set({ kind: 'miss' }, cache.missSize);
    metrics.cacheEntries.set({ kind: 'sources' }, limiter.size);
  }

  private refuse(reason: string, err: AppError): AppError {
    this.deps.metrics.failures.inc({ reason });
    return err;
  }

  /** The active key, or an AppError (401 unknown, 403 disabled, 429 rate-limited, 503 busy). */
  async authenticate(key: string | undefined, source: string): Promise<ActiveKey> {
    const { cache, limiter, gate, metrics } = this.deps;
    if (!key)
      throw this.refuse(
        'missing',
        new AppError(ErrorType.Authentication, 'missing API key: send Authorization: Bearer <key>'),
      );
    const hash = hashApiKey(key);
    const digest = hash.toString('hex');
    const hit = cache.get(digest);
    let found = hit?.key;
    // A look-up of the same key already under way (a cold replica's burst of one client): its
    // answer is awaited without a token, so a valid key is never refused while it is being read.
    const joined = hit ? undefined : gate.joined<ActiveKey | undefined>(digest);
    if (!found && joined) found = await joined;
    if (!found) {
      // The token is taken before the look-up, so concurrent attempts cannot overrun the burst.
      const waitS = limiter.take(source);
      if (waitS > 0) {
        metrics.rateLimited.inc();
        throw this.refuse(
          'rate_limited',
          new AppError(
            ErrorType.RateLimited,
            `too many failed authentications from this address; retry in ${Math.ceil(waitS)} s`,
            { retryAfterS: waitS },
          ),
        );
      }
      if (!hit && !joined) {
        try {
          // The ticket is taken by the one query that reads, so a look-up joined later cannot cache
          // an answer read before an invalidation it came after.
          found = await gate.run(digest, async () => {
            const ticket = cache.ticket();
            const k = await this.deps.lookup.findApiKey(hash);
            metrics.lookups.inc({ outcome: k ? 'found' : 'missing' });
            cache.set(digest, k, ticket);
            return k;
          });
        } catch (err) {
          if (!(err instanceof LookupGateFull)) throw err;
          throw this.refuse(
            'busy',
            new AppError(ErrorType.Unavailable, 'too many API key look-ups under way; retry shortly', {
              retryAfterS: 1,
            }),
          );
        }
        if (found) {
          limiter.refund(source);
          this.gauge();
        }
      }
      if (!found) {
        this.gauge();
        throw this.refuse('invalid', new AppError(ErrorType.Authentication, 'invalid API key'));
      }
    }
    if (found.tenant.disabled)
      throw this.refuse('disabled', new AppError(ErrorType.PermissionDenied, 'tenant is disabled'));
    return found;
  }
}

/** The address a request came from: express's `req.ip` (X-Forwarded-For only under `trust proxy`). */
export function sourceOf(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

/**
 * Tenant authentication by `Authorization: Bearer <api key>`; 401 when missing, wrong, revoked or
 * of a disabled tenant (403), 429 when the client's address failed too often (see KeyAuthenticator).
 */
export function tenantAuth(auth: KeyAuthenticator): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    auth
      .authenticate(bearer(req), sourceOf(req))
      .then((k) => {
        req.tenant = k.tenant;
        req.apiKey = { id: k.keyId, expiresAt: k.expiresAt };
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

import type { ActiveKey } from '../tenants/tenants-repo';

/** Options for {@link ApiKeyCache}. */
export interface ApiKeyCacheOptions {
  /**
   * Seconds an answer is kept: the safety net should an invalidation message be lost. 0 disables
   * caching (every request reads PostgreSQL). API_KEY_CACHE_TTL_S.
   */
  ttlS: number;
  /** Entries kept at most; past it the cache starts afresh. @default 10000 */
  maxEntries?: number;
  /** Clock, ms. @default Date.now */
  now?: () => number;
}

interface Entry {
  /** undefined: no such active key (cached too, so a flood of wrong keys does not reach PostgreSQL). */
  key: ActiveKey | undefined;
  until: number;
}

/**
 * Key lookups of one API replica, by key digest (the plaintext key is never held). Entries leave
 * at their TTL, at a rotated key's end of grace, or when an invalidation drops them
 * (src/tenants/key-invalidation.ts): a revoked key or a disabled tenant is refused at once.
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(opts: ApiKeyCacheOptions) {
    this.ttlMs = opts.ttlS * 1000;
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** The cached answer: `{ key }` (maybe `key: undefined`, a cached miss) or undefined when not cached. */
  get(digest: string): { key: ActiveKey | undefined } | undefined {
    const e = this.entries.get(digest);
    if (!e) return undefined;
    if (e.until <= this.now()) {
      this.entries.delete(digest);
      return undefined;
    }
    return { key: e.key };
  }

  set(digest: string, key: ActiveKey | undefined): void {
    if (this.ttlMs <= 0) return;
    let until = this.now() + this.ttlMs;
    if (key?.expiresAt) until = Math.min(until, key.expiresAt.getTime());
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(digest, { key, until });
  }

  /** Drops every entry of the tenant (or only its key `keyId`); returns how many were dropped. */
  drop(tenantId: string, keyId?: string): number {
    let n = 0;
    for (const [digest, e] of this.entries) {
      if (e.key?.tenant.id === tenantId && (keyId === undefined || e.key.keyId === keyId)) {
        this.entries.delete(digest);
        n++;
      }
    }
    return n;
  }

  /** Drops everything (after the invalidation channel was down: messages may have been missed). */
  clear(): number {
    const n = this.entries.size;
    this.entries.clear();
    return n;
  }

  get size(): number {
    return this.entries.size;
  }
}

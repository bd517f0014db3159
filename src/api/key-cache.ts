import type { ActiveKey } from '../tenants/tenants-repo';
import { LruMap } from './lru-map';

/** Options for {@link ApiKeyCache}. */
export interface ApiKeyCacheOptions {
  /**
   * Seconds an answer is kept: the safety net should an invalidation message be lost. 0 disables
   * caching (every request reads PostgreSQL). API_KEY_CACHE_TTL_S.
   */
  ttlS: number;
  /** Valid keys kept at most; past it the least recently used leaves. API_KEY_CACHE_MAX_KEYS. @default 10000 */
  maxEntries?: number;
  /** Wrong keys (misses) kept at most, apart from the valid ones. API_KEY_CACHE_MAX_MISSES. @default 10000 */
  maxMisses?: number;
  /** Tenants whose last invalidation is remembered (for lookups under way). @default 10000 */
  maxTenants?: number;
  /** Clock, ms. @default Date.now */
  now?: () => number;
}

/**
 * Where the cache's invalidations stood when a lookup began ({@link ApiKeyCache.ticket}): its answer
 * is cached only if no invalidation of its tenant came after.
 */
export type LookupTicket = number;

interface Entry {
  key: ActiveKey;
  until: number;
}

/**
 * Key lookups of one API replica, by key digest (the plaintext key is never held). Valid keys and
 * misses (no such active key) are kept in two bounded LRU maps, so no flood of wrong keys can evict
 * a valid one. Entries leave at their TTL, at a rotated key's end of grace, or when an invalidation
 * drops them (key-invalidation.ts): a revoked key or a disabled tenant is refused at once. An answer
 * read from PostgreSQL before an invalidation of its tenant is not cached after it (the revocation
 * race): each invalidation takes a sequence number, and `set` compares it with the lookup's ticket.
 */
export class ApiKeyCache {
  private readonly keys: LruMap<string, Entry>;
  private readonly misses: LruMap<string, number>;
  /** Sequence of each tenant's last invalidation. */
  private readonly invalidatedAt: LruMap<string, number>;
  private seq = 0;
  /** Lookups begun before this are stale for every tenant (a clear, or a forgotten tenant). */
  private floor = 0;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(opts: ApiKeyCacheOptions) {
    this.ttlMs = opts.ttlS * 1000;
    this.keys = new LruMap(opts.maxEntries ?? 10_000);
    this.misses = new LruMap(opts.maxMisses ?? 10_000);
    this.invalidatedAt = new LruMap(opts.maxTenants ?? 10_000);
    this.now = opts.now ?? Date.now;
  }

  /** The cached answer: `{ key }` (maybe `key: undefined`, a cached miss) or undefined when not cached. */
  get(digest: string): { key: ActiveKey | undefined } | undefined {
    const e = this.keys.get(digest);
    if (e) {
      if (e.until > this.now()) return { key: e.key };
      this.keys.delete(digest);
    }
    const until = this.misses.get(digest);
    if (until === undefined) return undefined;
    if (until > this.now()) return { key: undefined };
    this.misses.delete(digest);
    return undefined;
  }

  /** Take before reading PostgreSQL; pass to {@link set} with the answer. */
  ticket(): LookupTicket {
    return this.seq;
  }

  /**
   * Caches a lookup's answer unless an invalidation of its tenant arrived since `ticket`; returns
   * whether it was cached. A miss is cached apart: no invalidation makes a wrong key valid.
   */
  set(digest: string, key: ActiveKey | undefined, ticket: LookupTicket): boolean {
    if (this.ttlMs <= 0) return false;
    const until = this.now() + this.ttlMs;
    if (!key) {
      this.misses.set(digest, until);
      return true;
    }
    if (ticket < this.floor || (this.invalidatedAt.peek(key.tenant.id) ?? 0) > ticket) return false;
    const end = key.expiresAt ? Math.min(until, key.expiresAt.getTime()) : until;
    this.keys.set(digest, { key, until: end });
    return true;
  }

  /** Drops every entry of the tenant (or only its key `keyId`); returns how many were dropped. */
  drop(tenantId: string, keyId?: string): number {
    this.seq++;
    const forgotten = this.invalidatedAt.set(tenantId, this.seq);
    if (forgotten) this.floor = Math.max(this.floor, forgotten[1]);
    let n = 0;
    for (const [digest, e] of [...this.keys.entries()]) {
      if (e.key.tenant.id === tenantId && (keyId === undefined || e.key.keyId === keyId)) {
        this.keys.delete(digest);
        n++;
      }
    }
    return n;
  }

  /**
   * Drops every valid key (after the invalidation channel was down: messages may have been missed),
   * and no lookup under way may cache its answer. Misses stay: no message makes them valid.
   */
  clear(): number {
    const n = this.keys.size;
    this.keys.clear();
    this.floor = ++this.seq;
    return n;
  }

  /** Valid keys cached. */
  get size(): number {
    return this.keys.size;
  }

  /** Misses cached. */
  get missSize(): number {
    return this.misses.size;
  }
}

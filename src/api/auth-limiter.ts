import { LruMap } from './lru-map';

/** Options for {@link FailedAuthLimiter}. */
export interface FailedAuthLimiterOptions {
  /** Failed authentications a source may make at once before it must wait. AUTH_FAILURE_BURST. */
  burst: number;
  /** Failed authentications per second a source regains, up to `burst`. AUTH_FAILURE_RATE_PER_S. */
  ratePerS: number;
  /** Sources tracked at most; the least recently seen is forgotten. AUTH_FAILURE_MAX_SOURCES. @default 100000 */
  maxSources?: number;
  /** Clock, ms. @default Date.now */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket of failed authentications per source (the client address): each failure takes a
 * token; a source with none left is refused before its key is looked up, until it has regained one.
 * Memory is bounded by `maxSources` (about 100 bytes each); a forgotten source starts afresh, which
 * the global look-up cap ({@link LookupGate}) bounds.
 */
export class FailedAuthLimiter {
  private readonly buckets: LruMap<string, Bucket>;
  private readonly now: () => number;

  constructor(private readonly opts: FailedAuthLimiterOptions) {
    this.buckets = new LruMap(opts.maxSources ?? 100_000);
    this.now = opts.now ?? Date.now;
  }

  private refill(source: string): Bucket | undefined {
    const b = this.buckets.get(source);
    if (!b) return undefined;
    const t = this.now();
    b.tokens = Math.min(this.opts.burst, b.tokens + ((t - b.at) / 1000) * this.opts.ratePerS);
    b.at = t;
    return b;
  }

  /**
   * Takes one failure's token from `source` before its key is checked, so look-ups under way at
   * once cannot exceed its burst: 0 when taken, else the seconds until one is regained. A key that
   * turns out valid gives it back ({@link refund}).
   */
  take(source: string): number {
    const b = this.refill(source);
    if (!b) {
      this.buckets.set(source, { tokens: this.opts.burst - 1, at: this.now() });
      return 0;
    }
    if (b.tokens < 1) return (1 - b.tokens) / this.opts.ratePerS;
    b.tokens -= 1;
    return 0;
  }

  /** Gives back the token of an attempt that succeeded. */
  refund(source: string): void {
    const b = this.refill(source);
    if (b) b.tokens = Math.min(this.opts.burst, b.tokens + 1);
  }

  /** Sources tracked. */
  get size(): number {
    return this.buckets.size;
  }
}

/** Options for {@link LookupGate}. */
export interface LookupGateOptions {
  /** Key look-ups in PostgreSQL at once, over all sources. AUTH_LOOKUP_CONCURRENCY. */
  concurrency: number;
  /** Look-ups waiting for a slot at most; past it a look-up is refused. AUTH_LOOKUP_QUEUE. */
  maxQueued: number;
}

/** Refused by {@link LookupGate}: too many look-ups already waiting. */
export class LookupGateFull extends Error {
  override readonly name = 'LookupGateFull';
}

/**
 * Caps the key look-ups that reach PostgreSQL at once, over every source, so distinct wrong keys
 * from many addresses cannot take the pool from the rest of the API; the same digest looked up
 * twice at once is one query.
 */
export class LookupGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: LookupGateOptions) {}

  /** The look-up of `digest` under way, if any: joining it costs no slot and no query. */
  joined<T>(digest: string): Promise<T> | undefined {
    return this.inFlight.get(digest) as Promise<T> | undefined;
  }

  /** Runs `fn` for `digest` when a slot frees; throws LookupGateFull when the queue is full. */
  run<T>(digest: string, fn: () => Promise<T>): Promise<T> {
    const same = this.inFlight.get(digest);
    if (same) return same as Promise<T>;
    if (this.running >= this.opts.concurrency && this.waiting.length >= this.opts.maxQueued) {
      return Promise.reject(new LookupGateFull('too many API key look-ups waiting'));
    }
    const p = this.slot()
      .then(fn)
      .finally(() => {
        this.inFlight.delete(digest);
        this.release();
      });
    this.inFlight.set(digest, p);
    return p;
  }

  private slot(): Promise<void> {
    if (this.running < this.opts.concurrency) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }

  /** Look-ups running or waiting. */
  get pending(): number {
    return this.running + this.waiting.length;
  }
}

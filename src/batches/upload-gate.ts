import { AppError } from '../errors/app-error';
import { ErrorType } from '../shared/error-types';

/** Options of {@link UploadGate}. */
export interface UploadGateOptions {
  /** Batch bodies this process reads at once, all tenants together (BATCH_MAX_CONCURRENT_UPLOADS). */
  maxUploads: number;
  /** Batch bodies this process reads at once for one tenant (BATCH_MAX_CONCURRENT_UPLOADS_PER_TENANT). */
  maxPerTenant: number;
  /** Retry-After of a refused upload, seconds. @default 1 */
  retryAfterS?: number;
}

/**
 * Bounds the batch bodies one API process reads at once, so that concurrent uploads (each bounded
 * by the streaming parser) cannot add up: past the tenant's share a 429, past the process's a 503,
 * both with Retry-After and before a byte of the body is read.
 */
export class UploadGate {
  private total = 0;
  private readonly perTenant = new Map<string, number>();

  constructor(private readonly opts: UploadGateOptions) {}

  /** Bodies being read now (all tenants). */
  get active(): number {
    return this.total;
  }

  /** Takes a slot for `tenantId`, or throws; call the returned function once the body is read. */
  acquire(tenantId: string): () => void {
    const retryAfterS = this.opts.retryAfterS ?? 1;
    const mine = this.perTenant.get(tenantId) ?? 0;
    if (mine >= this.opts.maxPerTenant)
      throw new AppError(
        ErrorType.RateLimited,
        `this tenant already has ${mine} batch upload(s) in progress (at most ${this.opts.maxPerTenant} at once); retry when it ends`,
        { retryAfterS, param: 'body' },
      );
    if (this.total >= this.opts.maxUploads)
      throw new AppError(ErrorType.Unavailable, 'too many batch uploads in progress; retry later', {
        retryAfterS,
      });
    this.total++;
    this.perTenant.set(tenantId, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.perTenant.get(tenantId) ?? 1) - 1;
      if (left > 0) this.perTenant.set(tenantId, left);
      else this.perTenant.delete(tenantId);
    };
  }
}

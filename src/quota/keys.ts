import { bucketsFor, type WindowBucket } from './windows';

/**
 * Redis key layout. Every key of a tenant carries the hash tag `{t:<tenant>}` so a tenant's scripts
 * touch one cluster slot.
 */
export class QuotaKeys {
  constructor(private readonly prefix: string) {}

  private t(tenantId: string): string {
    return `${this.prefix}:{t:${tenantId}}`;
  }
  /** Hash of the tenant's effective limits; its presence means "tenant initialised". */
  limits(tenantId: string): string {
    return `${this.t(tenantId)}:limits`;
  }
  /** Sorted set of open reservations, scored by the time they count as stale. */
  active(tenantId: string): string {
    return `${this.t(tenantId)}:active`;
  }
  recordPrefix(tenantId: string): string {
    return `${this.t(tenantId)}:r:`;
  }
  record(tenantId: string, requestId: string): string {
    return this.recordPrefix(tenantId) + requestId;
  }
  bucketPrefix(tenantId: string): string {
    return `${this.t(tenantId)}:w:`;
  }
  bucket(tenantId: string, b: WindowBucket): string {
    return this.bucketPrefix(tenantId) + b.id;
  }
  /** The minute, day and month buckets that contain `at`. */
  windows(tenantId: string, at: Date): [string, string, string] {
    const b = bucketsFor(at);
    return [this.bucket(tenantId, b.minute), this.bucket(tenantId, b.day), this.bucket(tenantId, b.month)];
  }
  /**
   * Set of initialised tenants, walked by the sweeper and the audit. The one key outside every
   * tenant's slot: it is only ever written by a command of its own, never inside a tenant script.
   */
  tenants(): string {
    return `${this.prefix}:tenants`;
  }
}

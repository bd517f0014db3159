import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { QuotaRedis } from './redis-client';
import type { LimitName } from '../tenants/limits';
import type { QuotaKeys } from './keys';
import { bucketsFor } from './windows';
import { runScript } from './run-script';

/** Options for {@link QuotaHeadroom}. */
export interface QuotaHeadroomOptions {
  /** The quota store's Redis (one server or a cluster). */
  redis: QuotaRedis;
  /** The quota store's key layout (same prefix), e.g. `quotaStore.keys`. */
  keys: QuotaKeys;
  /** Loads a tenant that Redis does not hold yet, e.g. `(t) => quotaStore.rebuildTenant(t)`. */
  rebuild: (tenantId: string) => Promise<void>;
  /** Clock, for tests. @default () => new Date() */
  now?: () => Date;
}

/** A limit that would refuse the request, with the figures for the 429. */
export interface HeadroomRefusal {
  outcome: 'refused';
  limit: LimitName;
  limitValue: number;
  used: number;
  reserved: number;
  resetsAt: Date;
}

export type HeadroomResult = { outcome: 'ok' } | HeadroomRefusal;

const SCRIPT = readFileSync(join(__dirname, 'lua', 'headroom.lua'), 'utf8');

type Reply = (string | number)[];

/**
 * A read-only look at a tenant's quota: would one more request of `tokens` fit every limit now?
 * One Redis script, no writes. It lets the API refuse a tenant that is out of quota before doing
 * anything expensive for it (tokenizing a large prompt); the reservation itself stays with
 * QuotaStore.reserve, which decides atomically.
 */
export class QuotaHeadroom {
  private readonly now: () => Date;

  constructor(private readonly opts: QuotaHeadroomOptions) {
    this.now = opts.now ?? ((): Date => new Date());
  }

  /** `refused` (naming the limit, as reserve would) if one more request of `tokens` cannot fit. */
  async check(tenantId: string, tokens: number): Promise<HeadroomResult> {
    const at = this.now();
    let reply = await this.eval(tenantId, at, tokens);
    if (reply[0] === 'not_ready') {
      await this.opts.rebuild(tenantId);
      reply = await this.eval(tenantId, at, tokens);
    }
    // Still not initialised (a concurrent forced rebuild): no verdict; reserve will decide.
    if (reply[0] !== 'refused') return { outcome: 'ok' };
    const limit = String(reply[1]) as LimitName;
    const b = bucketsFor(at);
    const resetsAt: Record<LimitName, Date> = {
      max_in_flight: new Date(at.getTime() + 1000),
      requests_per_minute: b.minute.resetsAt,
      requests_per_day: b.day.resetsAt,
      tokens_per_day: b.day.resetsAt,
      tokens_per_month: b.month.resetsAt,
    };
    return {
      outcome: 'refused',
      limit,
      limitValue: Number(reply[2]),
      used: Number(reply[3]),
      reserved: Number(reply[4]),
      resetsAt: resetsAt[limit],
    };
  }

  private async eval(tenantId: string, at: Date, tokens: number): Promise<Reply> {
    const { keys } = this.opts;
    const b = bucketsFor(at);
    const scriptKeys = [
      keys.limits(tenantId),
      keys.bucket(tenantId, b.minute),
      keys.bucket(tenantId, b.day),
      keys.bucket(tenantId, b.month),
      keys.active(tenantId),
    ];
    return (await runScript(this.opts.redis, SCRIPT, scriptKeys, [tokens])) as Reply;
  }
}

import type { QuotaRedis } from './redis-client';
import type { QuotaKeys } from './keys';
import { refusalFrom, type QuotaRefusal } from './refusal';
import { QUOTA_SCRIPTS } from './scripts';
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
export type HeadroomRefusal = QuotaRefusal;

export type HeadroomResult = { outcome: 'ok' } | HeadroomRefusal;

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
    return this.look(tenantId, tokens, false);
  }

  /**
   * `refused` if `tokens` more cannot fit the tenant's token limits (per day, per month); the request
   * limits are not looked at. For a batch's total at create: its items are requests later.
   */
  async checkTokens(tenantId: string, tokens: number): Promise<HeadroomResult> {
    return this.look(tenantId, tokens, true);
  }

  private async look(tenantId: string, tokens: number, tokensOnly: boolean): Promise<HeadroomResult> {
    const at = this.now();
    let reply = await this.eval(tenantId, at, tokens, tokensOnly);
    if (reply[0] === 'not_ready') {
      await this.opts.rebuild(tenantId);
      reply = await this.eval(tenantId, at, tokens, tokensOnly);
    }
    // Still not initialised (a concurrent forced rebuild): no verdict; reserve will decide.
    if (reply[0] !== 'refused') return { outcome: 'ok' };
    return refusalFrom(reply, at, at);
  }

  private async eval(tenantId: string, at: Date, tokens: number, tokensOnly: boolean): Promise<Reply> {
    const { keys } = this.opts;
    const scriptKeys = [keys.limits(tenantId), ...keys.windows(tenantId, at), keys.active(tenantId)];
    return (await runScript(
      this.opts.redis,
      QUOTA_SCRIPTS.headroom,
      scriptKeys,
      tokensOnly ? [tokens, 'tokens'] : [tokens],
    )) as Reply;
  }
}

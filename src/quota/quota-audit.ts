import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pool } from 'pg';
import type { QuotaRedis } from './redis-client';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { QuotaStore } from './quota-store';
import { bucketStart, bucketsFor, type WindowKind } from './windows';

const AUDIT = readFileSync(join(__dirname, 'lua', 'audit.lua'), 'utf8');
/** Ledger rows younger than this may still be waiting for their Redis commit. */
const RECENT_S = 900;

export interface BucketDrift {
  window: WindowKind;
  key: string;
  requestsDrift: number;
  tokensDrift: number;
  fixed: boolean;
}

/** Options for {@link QuotaAuditor}. */
export interface QuotaAuditorOptions {
  pool: Pool;
  redis: QuotaRedis;
  quota: QuotaStore;
  metrics: Metrics;
  logger: Logger;
  /** Seconds between the two measurements that must agree before a correction. @default 1 */
  confirmDelayS?: number;
  now?: () => Date;
}

/**
 * Compares the ledger (source of truth) with Redis usage for the current minute, day and month, reports
 * drift as a metric and a log line, and corrects drift that two measurements agree on.
 */
export class QuotaAuditor {
  constructor(private readonly o: QuotaAuditorOptions) {}

  private async measure(
    tenantId: string,
    fix?: Record<string, { req: number; tok: number }>,
  ): Promise<BucketDrift[] | undefined> {
    const now = this.o.now?.() ?? new Date();
    const buckets = Object.values(bucketsFor(now));
    const payload = { buckets: [] as unknown[], fix: fix ?? null };
    for (const b of buckets) {
      const from = bucketStart(b);
      const { rows } = await this.o.pool.query<{
        n: string;
        tok: string;
        recent: { id: string; tokens: number }[] | null;
      }>(
        `SELECT count(*) AS n, COALESCE(sum(total_tokens), 0) AS tok,
                json_agg(json_build_object('id', request_id, 'tokens', total_tokens))
                  FILTER (WHERE created_at > now() - make_interval(secs => $4)) AS recent
         FROM usage_ledger WHERE tenant_id = $1 AND window_at >= $2 AND window_at < $3`,
        [tenantId, from, b.resetsAt, RECENT_S],
      );
      const r = rows[0]!;
      payload.buckets.push({
        key: this.o.quota.keys.bucket(tenantId, b),
        req: Number(r.n),
        tok: Number(r.tok),
        check_req: b.kind !== 'month',
        check_tok: b.kind !== 'minute',
        recent: (r.recent ?? []).map((x) => ({
          record: this.o.quota.keys.record(tenantId, x.id),
          tokens: x.tokens,
        })),
      });
    }
    const reply = (await this.o.redis.eval(
      AUDIT,
      1,
      this.o.quota.keys.limits(tenantId),
      JSON.stringify(payload),
    )) as string;
    if (reply === 'not_ready') return undefined;
    const parsed = JSON.parse(reply) as {
      key: string;
      req_drift: number;
      tok_drift: number;
      fixed: boolean;
    }[];
    return parsed.map((p, i) => ({
      window: buckets[i]!.kind,
      key: p.key,
      requestsDrift: p.req_drift,
      tokensDrift: p.tok_drift,
      fixed: p.fixed,
    }));
  }

  /** Audits one tenant; with `fix`, corrects drift that is still the same after a short delay. */
  async audit(tenantId: string, fix: boolean): Promise<BucketDrift[]> {
    let drift = await this.measure(tenantId);
    if (!drift) return []; // not in Redis: it will be rebuilt from the ledger on first use
    const off = drift.filter((d) => d.requestsDrift !== 0 || d.tokensDrift !== 0);
    if (fix && off.length) {
      await new Promise((r) => setTimeout(r, (this.o.confirmDelayS ?? 1) * 1000));
      const want = Object.fromEntries(off.map((d) => [d.key, { req: d.requestsDrift, tok: d.tokensDrift }]));
      drift = (await this.measure(tenantId, want)) ?? drift;
    }
    for (const d of drift) {
      this.o.metrics.quotaDrift.set(
        { tenant: tenantId, window: d.window, unit: 'tokens' },
        d.fixed ? 0 : d.tokensDrift,
      );
      this.o.metrics.quotaDrift.set(
        { tenant: tenantId, window: d.window, unit: 'requests' },
        d.fixed ? 0 : d.requestsDrift,
      );
      if (d.requestsDrift !== 0 || d.tokensDrift !== 0) {
        this.o.logger.warn(
          {
            tenant: tenantId,
            window: d.window,
            requestsDrift: d.requestsDrift,
            tokensDrift: d.tokensDrift,
            fixed: d.fixed,
          },
          'quota drift between ledger and Redis',
        );
      }
    }
    return drift;
  }

  /** Audits every tenant Redis knows. */
  async auditAll(fix: boolean): Promise<Map<string, BucketDrift[]>> {
    const out = new Map<string, BucketDrift[]>();
    for (const t of await this.o.quota.tenants()) out.set(t, await this.audit(t, fix));
    return out;
  }
}

import type { Pool } from 'pg';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { withTransaction } from '../db/transaction';
import { ledgerTotals } from './ledger-totals';
import { quotaAuditSeconds, quotaCorrections } from './quota-metrics';
import type { QuotaStore } from './quota-store';
import type { QuotaRedis } from './redis-client';
import { QUOTA_SCRIPTS } from './scripts';
import { bucketStart, bucketsFor, type WindowBucket, type WindowKind } from './windows';

/**
 * Ledger rows younger than this may still wait for their Redis commit even when their request row
 * says otherwise (rows written without one, e.g. by hand); rows of open requests always may.
 */
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

/** One consistent measurement: ledger minus the counters of one Redis snapshot. */
interface Measurement {
  epoch: string;
  fixSeq: number;
  drift: BucketDrift[];
}

/**
 * Compares the ledger (source of truth) with Redis usage for the current minute, day and month, reports
 * drift as a metric and a log line, and corrects drift that two measurements agree on.
 *
 * Exactly once under any number of replicas, by construction:
 * - A measurement is consistent. The counters are read first, atomically with the tenant's commit
 *   sequence number S (audit-snapshot.lua); the ledger is read after. A ledger row is written before
 *   its Redis commit, so every commit numbered <= S is in the ledger read; ledger rows whose commit is
 *   not numbered <= S (still reserved, expired, or committed later) are left out of the expectation.
 *   Concurrent traffic therefore never looks like drift.
 * - A correction is a compare-and-set (audit-fix.lua): it applies only if no rebuild and no other
 *   correction happened since its snapshot, and counts itself. Of N auditors that measured the same
 *   drift, one corrects it; the others find the sequence moved and correct nothing.
 */
export class QuotaAuditor {
  private readonly corrections;
  private readonly seconds;

  constructor(private readonly o: QuotaAuditorOptions) {
    this.corrections = quotaCorrections(o.metrics.registry);
    this.seconds = quotaAuditSeconds(o.metrics.registry);
  }

  private async measure(tenantId: string): Promise<Measurement | undefined> {
    const keys = this.o.quota.keys;
    const buckets = Object.values(bucketsFor(this.o.now?.() ?? new Date()));
    const bucketKeys = buckets.map((b) => keys.bucket(tenantId, b));
    const snap = (await this.o.redis.eval(
      QUOTA_SCRIPTS.auditSnapshot,
      4,
      keys.limits(tenantId),
      ...bucketKeys,
    )) as string[];
    if (snap[0] !== 'ok') return undefined; // not in Redis: rebuilt from the ledger on first use
    const [, epoch = '', commitSeq = '0', fixSeq = '0', ...counters] = snap;

    const ledger = await this.ledger(tenantId, buckets);
    const pending = [...new Set(ledger.flatMap((l) => l.pending.map((p) => p.id)))];
    const counted = await this.countedInSnapshot(tenantId, pending, epoch, Number(commitSeq));

    const drift = buckets.map((b, i): BucketDrift => {
      const l = ledger[i]!;
      let req = l.requests;
      let tok = l.tokens;
      for (const p of l.pending) {
        if (counted.has(p.id)) continue;
        req -= 1;
        tok -= p.tokens;
      }
      // Minute buckets count requests only, month buckets tokens only.
      return {
        window: b.kind,
        key: bucketKeys[i]!,
        requestsDrift: b.kind === 'month' ? 0 : req - Number(counters[2 * i]),
        tokensDrift: b.kind === 'minute' ? 0 : tok - Number(counters[2 * i + 1]),
        fixed: false,
      };
    });
    return { epoch, fixSeq: Number(fixSeq), drift };
  }

  /**
   * Ledger sums of each bucket, and its rows whose Redis commit may be pending, in one snapshot (a
   * row written between the two reads would otherwise look like drift). The sums come from the daily
   * rollup for whole days (ledgerTotals); the pending rows are found by the index of recent ledger
   * rows and by the tenant's open requests, so a month costs what its last minutes hold.
   */
  private ledger(
    tenantId: string,
    buckets: WindowBucket[],
  ): Promise<{ requests: number; tokens: number; pending: { id: string; tokens: number }[] }[]> {
    const from = new Date(Math.min(...buckets.map((b) => bucketStart(b).getTime())));
    const to = new Date(Math.max(...buckets.map((b) => b.resetsAt.getTime())));
    return withTransaction(
      this.o.pool,
      async (client) => {
        const { rows } = await client.query<{ id: string; tokens: number; window_at: Date }>(
          // Materialized: the recent rows by their own index (tenant_id, created_at), never by
          // filtering every row of the month that the window index would give.
          `WITH recent AS MATERIALIZED (
             SELECT request_id, total_tokens, window_at FROM usage_ledger
             WHERE tenant_id = $1 AND created_at > now() - make_interval(secs => $4))
           SELECT request_id AS id, total_tokens AS tokens, window_at FROM recent
           WHERE window_at >= $2 AND window_at < $3
           UNION
           SELECT l.request_id, l.total_tokens, l.window_at
           FROM requests r JOIN usage_ledger l ON l.request_id = r.id
           WHERE r.tenant_id = $1 AND r.status IN ('queued', 'running')
             AND l.window_at >= $2 AND l.window_at < $3`,
          [tenantId, from, to, RECENT_S],
        );
        const out = [];
        for (const b of buckets) {
          const start = bucketStart(b);
          const totals = await ledgerTotals(client, tenantId, start, b.resetsAt);
          const pending = rows
            .filter((r) => r.window_at >= start && r.window_at < b.resetsAt)
            .map((r) => ({ id: r.id, tokens: r.tokens }));
          out.push({ ...totals, pending });
        }
        return out;
      },
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    );
  }

  /**
   * Which of these requests the counters of snapshot (epoch, commitSeq) include: committed in an
   * earlier epoch (the rebuild counted it) or numbered <= commitSeq; also released or forgotten
   * records (the ledger counts them, so if Redis does not, that is drift). Record states only move
   * forward, so reading them after the snapshot gives the same answer as reading them with it.
   */
  private async countedInSnapshot(
    tenantId: string,
    ids: string[],
    epoch: string,
    commitSeq: number,
  ): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const pipe = this.o.redis.pipeline();
    for (const id of ids) pipe.hmget(this.o.quota.keys.record(tenantId, id), 'state', 'cseq', 'cep');
    const replies = (await pipe.exec()) ?? [];
    const counted = new Set<string>();
    ids.forEach((id, i) => {
      const [err, v] = replies[i] ?? [];
      if (err) throw err;
      const [state, cseq, cep] = (v as (string | null)[] | undefined) ?? [];
      if (state === 'reserved' || state === 'expired') return;
      if (state === 'committed' && (cep ?? '') === epoch && Number(cseq ?? 0) > commitSeq) return;
      counted.add(id);
    });
    return counted;
  }

  /** Applies the drift of `m` as one compare-and-set; false when another correction or a rebuild won. */
  private async correct(tenantId: string, m: Measurement, off: BucketDrift[]): Promise<boolean> {
    const applied = await this.o.redis.eval(
      QUOTA_SCRIPTS.auditFix,
      1 + off.length,
      this.o.quota.keys.limits(tenantId),
      ...off.map((d) => d.key),
      m.epoch,
      m.fixSeq,
      ...off.flatMap((d) => [d.requestsDrift, d.tokensDrift]),
    );
    return Number(applied) === 1;
  }

  /** Audits one tenant; with `fix`, corrects drift that is still the same after a short delay. */
  async audit(tenantId: string, fix: boolean): Promise<BucketDrift[]> {
    const end = this.seconds.startTimer();
    try {
      return await this.auditOnce(tenantId, fix);
    } finally {
      end();
    }
  }

  private async auditOnce(tenantId: string, fix: boolean): Promise<BucketDrift[]> {
    const first = await this.measure(tenantId);
    if (!first) return [];
    let drift = first.drift;
    const nonZero = (d: BucketDrift): boolean => d.requestsDrift !== 0 || d.tokensDrift !== 0;
    if (fix && drift.some(nonZero)) {
      await new Promise((r) => setTimeout(r, (this.o.confirmDelayS ?? 1) * 1000));
      const second = await this.measure(tenantId);
      if (second) {
        drift = second.drift;
        const off = drift.filter(
          (d, i) =>
            nonZero(d) &&
            d.requestsDrift === first.drift[i]!.requestsDrift &&
            d.tokensDrift === first.drift[i]!.tokensDrift,
        );
        if (off.length && (await this.correct(tenantId, second, off))) {
          for (const d of off) {
            d.fixed = true;
            this.corrections.inc({ tenant: tenantId, window: d.window });
          }
        } else if (off.length) {
          // Another replica corrected first (or the tenant was rebuilt): report what is left.
          drift = (await this.measure(tenantId))?.drift ?? drift;
        }
      }
    }
    this.report(tenantId, drift);
    return drift;
  }

  private report(tenantId: string, drift: BucketDrift[]): void {
    for (const d of drift) {
      const gauge = this.o.metrics.quotaDrift;
      gauge.set({ tenant: tenantId, window: d.window, unit: 'tokens' }, d.fixed ? 0 : d.tokensDrift);
      gauge.set({ tenant: tenantId, window: d.window, unit: 'requests' }, d.fixed ? 0 : d.requestsDrift);
      if (d.requestsDrift !== 0 || d.tokensDrift !== 0) {
        this.o.logger.warn(
          {
            tenant: tenantId,
            window: d.window,
            requestsDrift: d.requestsDrift,
            tokensDrift: d.tokensDrift,
            fixed: d.fixed,
          },
          d.fixed ? 'quota drift corrected' : 'quota drift between ledger and Redis',
        );
      }
    }
  }

  /** Audits every tenant Redis knows. */
  async auditAll(fix: boolean): Promise<Map<string, BucketDrift[]>> {
    const out = new Map<string, BucketDrift[]>();
    for (const t of await this.o.quota.tenants()) out.set(t, await this.audit(t, fix));
    return out;
  }
}

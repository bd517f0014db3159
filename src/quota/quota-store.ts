import { randomUUID } from 'node:crypto';
import type { QuotaRedis } from './redis-client';
import { limitsToWire, type LimitName, type TenantLimits } from '../tenants/limits';
import { QuotaKeys } from './keys';
import type { OpenRequest, QuotaStateSource } from './quota-state-source';
import { QUOTA_SCRIPTS as SCRIPTS } from './scripts';
import { BUCKET_TTL_S, bucketStart, bucketsFor, type WindowBucket } from './windows';
import { runScript } from './run-script';
import { refusalFrom, type QuotaRefusal } from './refusal';
import type { InferenceInput } from '../shared/types';

/** Options for {@link QuotaStore}. */
export interface QuotaStoreOptions {
  redis: QuotaRedis;
  /** Source of truth used to (re)build a tenant's counters when Redis lost them. */
  source: QuotaStateSource;
  /** Redis key prefix (REDIS_KEY_PREFIX). */
  prefix: string;
  /** Seconds after which an open reservation counts as abandoned (QUOTA_RESERVATION_TTL_S). */
  reservationTtlS: number;
  /** Seconds a settled reservation record is kept for idempotency (QUOTA_RECORD_RETENTION_S). */
  recordRetentionS: number;
  /** Clock, for tests. @default () => new Date() */
  now?: () => Date;
  /** Called when a tenant is rebuilt from PostgreSQL. */
  onRebuild?: (tenantId: string, openReservations: number) => void;
}

/** The reservation of one request: what reserve, commit and release are keyed and windowed by. */
export interface ReservationRef {
  requestId: string;
  tenantId: string;
  /** Anchors the windows: the request is charged to the buckets containing this time. */
  acceptedAt: Date;
}

/** The reservation of a request (accept, admit and settle all hold the same one). */
export function reservationRefOf(
  input: Pick<InferenceInput, 'requestId' | 'tenantId' | 'acceptedAt'>,
): ReservationRef {
  return { requestId: input.requestId, tenantId: input.tenantId, acceptedAt: new Date(input.acceptedAt) };
}

export type ReserveResult = { outcome: 'reserved' } | { outcome: 'exists'; state: string } | QuotaRefusal;

/**
 * Outcome of extending a reservation by a slice: `reserved` is the request's whole reservation
 * (prompt included) afterwards. `granted`: the slice's target is covered; `partial`: some of it, up
 * to a token limit; `refused`: nothing (a token limit is reached, named as a 429 would); `settled`:
 * the reservation is no longer open (settled, or swept as abandoned); `missing`: no record.
 */
export type ExtendResult =
  | { outcome: 'granted' | 'partial'; reserved: number }
  | (QuotaRefusal & { reservedByRequest: number })
  | { outcome: 'settled'; state: string }
  | { outcome: 'missing' };

export type SettleResult =
  { outcome: 'settled'; from: string } | { outcome: 'noop'; state: string } | { outcome: 'missing' };

/** One line of GET /v1/quota. */
export interface LimitStatus {
  limit: number;
  used: number;
  reserved: number;
  remaining: number;
  resets_at: string | null;
}

/** Thrown when a tenant is unknown to PostgreSQL, so it cannot hold quota. */
export class UnknownTenantError extends Error {
  override readonly name = 'UnknownTenantError';
}

/** Most reservations one sweep call examines. */
const SWEEP_BATCH = 500;

type Reply = (string | number)[];

/**
 * Token and request quotas in Redis. Every operation is one Lua script, so it is atomic across any
 * number of API and worker replicas; every operation is keyed by request id, so it is idempotent.
 * Every script call names all its keys in KEYS and they share the tenant's hash tag, so it runs on
 * one server or a Redis Cluster alike.
 */
export class QuotaStore {
  readonly keys: QuotaKeys;
  private readonly redis: QuotaRedis;
  private readonly ttlS: number;
  private readonly retentionS: number;
  private readonly now: () => Date;
  private readonly rebuilding = new Map<string, Promise<void>>();

  constructor(private readonly opts: QuotaStoreOptions) {
    this.redis = opts.redis;
    this.keys = new QuotaKeys(opts.prefix);
    this.ttlS = opts.reservationTtlS;
    this.retentionS = opts.recordRetentionS;
    this.now = opts.now ?? ((): Date => new Date());
  }

  /** KEYS of reserve.lua and settle.lua: limits, record, minute, day, month, active. */
  private scriptKeys(ref: ReservationRef): string[] {
    return [
      this.keys.limits(ref.tenantId),
      this.keys.record(ref.tenantId, ref.requestId),
      ...this.keys.windows(ref.tenantId, ref.acceptedAt),
      this.keys.active(ref.tenantId),
    ];
  }

  private async eval(src: string, keys: string[], args: (string | number)[]): Promise<Reply> {
    return (await runScript(this.redis, src, keys, args)) as Reply;
  }

  /** Runs `op`; if the tenant is not initialised in Redis, rebuilds it from PostgreSQL and runs `op` again. */
  private async withTenant(tenantId: string, op: () => Promise<Reply>): Promise<Reply> {
    let reply = await op();
    for (let i = 0; i < 3 && reply[0] === 'not_ready'; i++) {
      await this.rebuildTenant(tenantId);
      reply = await op();
    }
    if (reply[0] === 'not_ready')
      throw new Error(`quota state for tenant ${tenantId} could not be initialised`);
    return reply;
  }

  /** Atomically checks every limit of the tenant and reserves `tokens` (and one request) in all windows. */
  async reserve(ref: ReservationRef, tokens: number): Promise<ReserveResult> {
    const now = this.now().getTime();
    const reply = await this.withTenant(ref.tenantId, () =>
      this.eval(SCRIPTS.reserve, this.scriptKeys(ref), [
        ref.requestId,
        tokens,
        now + this.ttlS * 1000,
        BUCKET_TTL_S.minute,
        BUCKET_TTL_S.day,
        BUCKET_TTL_S.month,
        now,
      ]),
    );
    if (reply[0] === 'ok') return { outcome: 'reserved' };
    if (reply[0] === 'exists') return { outcome: 'exists', state: String(reply[1]) };
    return refusalFrom(reply, ref.acceptedAt, this.now());
  }

  /**
   * Grows the request's open reservation to `targetTokens` (its prompt plus `slice` slices, capped
   * at prompt + max_tokens), or by what the tenant's token limits leave (partial). Idempotent per
   * slice: a repeat, or a slice already covered, grants nothing more (extend.lua).
   */
  async extend(ref: ReservationRef, slice: number, targetTokens: number): Promise<ExtendResult> {
    const reply = await this.withTenant(ref.tenantId, () =>
      this.eval(SCRIPTS.extend, this.scriptKeys(ref), [ref.requestId, slice, targetTokens]),
    );
    if (reply[0] === 'ok') return { outcome: 'granted', reserved: Number(reply[1]) };
    if (reply[0] === 'partial') return { outcome: 'partial', reserved: Number(reply[1]) };
    if (reply[0] === 'settled') return { outcome: 'settled', state: String(reply[1]) };
    if (reply[0] === 'refused')
      return { ...refusalFrom(reply, ref.acceptedAt, this.now()), reservedByRequest: Number(reply[5]) };
    return { outcome: 'missing' };
  }

  /** Replaces the reservation by the actual usage. No-op after release or a previous commit. */
  commit(ref: ReservationRef, actualTokens: number): Promise<SettleResult> {
    return this.settle(ref, 'commit', actualTokens);
  }

  /** Gives the reservation back. No-op after commit or a previous release. */
  release(ref: ReservationRef): Promise<SettleResult> {
    return this.settle(ref, 'release', 0);
  }

  private async settle(
    ref: ReservationRef,
    action: 'commit' | 'release',
    actual: number,
  ): Promise<SettleResult> {
    const reply = await this.withTenant(ref.tenantId, () =>
      this.eval(SCRIPTS.settle, this.scriptKeys(ref), [ref.requestId, action, actual, this.retentionS]),
    );
    if (reply[0] === 'ok') return { outcome: 'settled', from: String(reply[1]) };
    if (reply[0] === 'noop') return { outcome: 'noop', state: String(reply[1]) };
    return { outcome: 'missing' };
  }

  /** State of one reservation record (reserved, committed, released, expired) or undefined. */
  async reservationState(tenantId: string, requestId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.record(tenantId, requestId), 'state')) ?? undefined;
  }

  /**
   * Pushes new limits (already written to PostgreSQL) to Redis; they apply to the next reservation.
   * The tenant is installed first if Redis does not hold it: otherwise a rebuild in another process
   * from a PostgreSQL snapshot taken before the change could install the old limits after this call
   * found nothing to update, and the change would be lost until the next rebuild.
   */
  async setLimits(tenantId: string, limits: TenantLimits): Promise<void> {
    await this.rebuildTenant(tenantId);
    const wire = limitsToWire(limits);
    await this.eval(SCRIPTS.setLimits, [this.keys.limits(tenantId)], Object.entries(wire).flat());
  }

  /**
   * Rebuilds the tenant's counters from PostgreSQL if Redis does not hold them. Concurrent calls for
   * one tenant share one rebuild, so a burst after a Redis flush costs one PostgreSQL snapshot.
   */
  rebuildTenant(tenantId: string): Promise<void> {
    let running = this.rebuilding.get(tenantId);
    if (!running) {
      running = this.rebuildOnce(tenantId).finally(() => this.rebuilding.delete(tenantId));
      this.rebuilding.set(tenantId, running);
    }
    return running;
  }

  private async rebuildOnce(tenantId: string): Promise<void> {
    if (await this.redis.exists(this.keys.limits(tenantId))) return;
    const now = this.now();
    const current = bucketsFor(now);
    const bucketOf = new Map<string, WindowBucket>();
    const add = (b: WindowBucket): string => {
      const key = this.keys.bucket(tenantId, b);
      bucketOf.set(key, b);
      return key;
    };
    Object.values(current).forEach(add);
    const openBuckets = (o: OpenRequest): [string, string, string] => {
      const b = bucketsFor(o.acceptedAt);
      return [add(b.minute), add(b.day), add(b.month)];
    };
    const state = await this.opts.source.loadTenant(tenantId, (open) => {
      open.forEach(openBuckets);
      return [...bucketOf.entries()].map(([key, b]) => ({ key, from: bucketStart(b), to: b.resetsAt }));
    });
    if (!state) throw new UnknownTenantError(`unknown tenant ${tenantId}`);
    // Every key goes to KEYS; the payload refers to them by their (1-based) index there.
    const keys = [this.keys.limits(tenantId), this.keys.active(tenantId)];
    const index = (key: string): number => keys.push(key);
    const bucketIndex = new Map([...bucketOf.keys()].map((key) => [key, index(key)]));
    const payload = {
      epoch: randomUUID(),
      limits: limitsToWire(state.limits),
      buckets: [...bucketOf.entries()].map(([key, b]) => ({
        k: bucketIndex.get(key),
        ttl: BUCKET_TTL_S[b.kind],
        req_used: state.usage.get(key)?.requests ?? 0,
        tok_used: state.usage.get(key)?.tokens ?? 0,
      })),
      open: state.open.map((o) => {
        const [km, kd, kM] = openBuckets(o).map((key) => bucketIndex.get(key));
        return {
          k: index(this.keys.record(tenantId, o.requestId)),
          id: o.requestId,
          tokens: o.estimatedTokens,
          at: o.acceptedAt.getTime(),
          staleAt: now.getTime() + this.ttlS * 1000,
          km,
          kd,
          kM,
        };
      }),
    };
    // The registry first, in its own command (it lives in another slot): a crash in between leaves a
    // registered tenant that is not initialised yet, which sweeps and audits skip, never the reverse.
    await this.redis.sadd(this.keys.tenants(), tenantId);
    const installed = await this.eval(SCRIPTS.initTenant, keys, [JSON.stringify(payload)]);
    if (Number(installed) === 1) this.opts.onRebuild?.(tenantId, state.open.length);
  }

  /**
   * Drops the tenant's Redis state and rebuilds it from PostgreSQL (operator command). Concurrent
   * operations wait for the rebuild (they see the tenant as not initialised), so none is lost.
   */
  async forceRebuild(tenantId: string): Promise<void> {
    await this.redis.del(this.keys.limits(tenantId));
    await this.rebuildTenant(tenantId);
  }

  /**
   * Reclaims the tenant's abandoned reservations; returns those this call reclaimed. Safe to run in
   * any number of replicas at once: sweep.lua reclaims a reservation only from state 'reserved'.
   */
  async sweep(tenantId: string): Promise<{ requestId: string; tokens: number }[]> {
    const now = this.now().getTime();
    const ids = await this.redis.zrangebyscore(
      this.keys.active(tenantId),
      '-inf',
      now,
      'LIMIT',
      0,
      SWEEP_BATCH,
    );
    if (!ids.length) return [];
    // The records name their bucket keys; read them here so that the script declares every key.
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hmget(this.keys.record(tenantId, id), 'km', 'kd', 'kM');
    const recs = (await pipe.exec()) ?? [];
    const keys = [this.keys.limits(tenantId), this.keys.active(tenantId)];
    ids.forEach((id, i) => {
      const [err, fields] = recs[i] ?? [];
      if (err) throw err;
      const record = this.keys.record(tenantId, id);
      // Missing (record gone) or foreign (not this tenant's: another slot) bucket keys are replaced by
      // the record key: the script then only drops a settled record's index entry, never reclaims.
      const own = (k: string | null | undefined): string =>
        k?.startsWith(this.keys.bucketPrefix(tenantId)) ? k : record;
      const [km, kd, kM] = (fields as (string | null)[] | undefined) ?? [];
      keys.push(record, own(km), own(kd), own(kM));
    });
    const flat = (await this.eval(SCRIPTS.sweep, keys, [now, this.retentionS, ...ids])) as string[];
    const out: { requestId: string; tokens: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2)
      out.push({ requestId: flat[i]!, tokens: Number(flat[i + 1]) });
    return out;
  }

  /** Every tenant with quota state in Redis. */
  async tenants(): Promise<string[]> {
    return this.redis.smembers(this.keys.tenants());
  }

  /** Limit, used, reserved, remaining and reset time of every limit, as of now. */
  async status(tenantId: string): Promise<Record<LimitName, LimitStatus>> {
    await this.withTenant(tenantId, async () =>
      (await this.redis.exists(this.keys.limits(tenantId))) ? ['ok'] : ['not_ready'],
    );
    const b = bucketsFor(this.now());
    const [lim, m, d, mo, inflight] = await this.redis
      .multi()
      .hgetall(this.keys.limits(tenantId))
      .hgetall(this.keys.bucket(tenantId, b.minute))
      .hgetall(this.keys.bucket(tenantId, b.day))
      .hgetall(this.keys.bucket(tenantId, b.month))
      .zcard(this.keys.active(tenantId))
      .exec()
      .then((r) =>
        (r ?? []).map(([err, v]) => {
          if (err) throw err;
          return v;
        }),
      );
    const h = (x: unknown, f: string): number => Number((x as Record<string, string> | null)?.[f] ?? 0);
    const line = (limit: number, used: number, reserved: number, resetsAt: Date | null): LimitStatus => ({
      limit,
      used,
      reserved,
      remaining: Math.max(0, limit - used - reserved),
      resets_at: resetsAt?.toISOString() ?? null,
    });
    return {
      requests_per_minute: line(
        h(lim, 'requests_per_minute'),
        h(m, 'req_used'),
        h(m, 'req_res'),
        b.minute.resetsAt,
      ),
      requests_per_day: line(h(lim, 'requests_per_day'), h(d, 'req_used'), h(d, 'req_res'), b.day.resetsAt),
      tokens_per_day: line(h(lim, 'tokens_per_day'), h(d, 'tok_used'), h(d, 'tok_res'), b.day.resetsAt),
      tokens_per_month: line(
        h(lim, 'tokens_per_month'),
        h(mo, 'tok_used'),
        h(mo, 'tok_res'),
        b.month.resetsAt,
      ),
      max_in_flight: line(h(lim, 'max_in_flight'), 0, Number(inflight), null),
    };
  }
}

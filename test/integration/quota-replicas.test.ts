import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createLogger } from '../../src/observability/logger';
import { createMetrics, type Metrics } from '../../src/observability/metrics';
import { QuotaAuditor, type BucketDrift } from '../../src/quota/quota-audit';
import type { QuotaStore } from '../../src/quota/quota-store';
import { QuotaSweeper } from '../../src/quota/quota-sweeper';
import type { QuotaRedis } from '../../src/quota/redis-client';
import { bucketStart, bucketsFor } from '../../src/quota/windows';
import { quotaFixture } from '../support/quota-fixture';
import { startRedisCluster, type LocalRedisCluster } from '../support/redis-cluster';

/**
 * The sweeper and the audit-with-correction run in every orchestration worker replica. Here N
 * replicas (own Redis connection, store, sweeper, auditor, metrics) run both at once, several
 * rounds, while requests keep committing: every abandoned reservation must be reclaimed exactly
 * once, every drift corrected exactly once, and Redis must end equal to the ledger. Once on one
 * Redis server, once on a real 3-node Redis Cluster.
 */
const N = 8;
const ROUNDS = 6;
/** Tokens of every live request; also the size of the injected phantom commit, so that a commit
 * racing an audit looks exactly like the drift (the case a naive re-check would apply twice). */
const E = 40;
const LIMITS = {
  tokens_per_day: 10_000_000,
  tokens_per_month: 100_000_000,
  requests_per_minute: 100_000,
  requests_per_day: 100_000,
  max_in_flight: 100_000,
};

type Fixture = Awaited<ReturnType<typeof quotaFixture>>;
let f: Fixture;
const clients: QuotaRedis[] = [];
afterEach(async () => {
  await f?.close();
  await Promise.allSettled(clients.splice(0).map((c) => c.quit()));
});
let cluster: LocalRedisCluster | undefined;
afterAll(async () => {
  await cluster?.stop();
});

/** A new client of the backend under test; closed after the test. */
type Connect = () => QuotaRedis;
const backends: [string, () => Promise<Connect>][] = [
  [
    'one Redis server',
    () => Promise.resolve(() => new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379')),
  ],
  [
    'a 3-node Redis Cluster',
    async () => {
      cluster ??= await startRedisCluster(3);
      return () => cluster!.connect();
    },
  ],
];

interface Replica {
  quota: QuotaStore;
  metrics: Metrics;
  sweeper: QuotaSweeper;
  auditor: QuotaAuditor;
}

const newId = (): string => `inf_${randomUUID().replace(/-/g, '')}`;
/** Sum over every replica's registry of one counter. */
const counterSum = async (rs: Replica[], name: string): Promise<number> =>
  (
    await Promise.all(
      rs.map(async (r) => (await r.metrics.registry.getSingleMetric(name)?.get())?.values ?? []),
    )
  )
    .flat()
    .reduce((a, v) => a + v.value, 0);

test.each(backends)(
  `${N} replicas sweeping and auditing with correction at once, under traffic, on %s: exactly once`,
  async (_, backend) => {
    const connect = await backend();
    const own = (): QuotaRedis => {
      const c = connect();
      clients.push(c);
      return c;
    };
    f = await quotaFixture(LIMITS, {}, { redis: own() });
    const tenants = [f.tenantId, await f.addTenant(`${f.tenantId}-b`, LIMITS)];
    const logger = createLogger({ component: 'test', level: 'silent' });
    const replicas: Replica[] = Array.from({ length: N }, () => {
      const redis = own();
      const metrics = createMetrics('test');
      const quota = f.make({ redis });
      return {
        quota,
        metrics,
        sweeper: new QuotaSweeper(quota, metrics, logger, 60),
        auditor: new QuotaAuditor({ pool: f.pool, redis, quota, metrics, logger, confirmDelayS: 0.05 }),
      };
    });

    // Abandoned reservations: reserved by a replica whose clock says three hours ago, so they are
    // stale now (TTL 2 h); they sit in the current windows.
    const past = f.make({ now: () => new Date(Date.now() - 3 * 3600_000) });
    const abandoned: { tenant: string; id: string; tokens: number }[] = [];
    for (const tenant of tenants) {
      for (let i = 0; i < 25; i++) {
        const a = { tenant, id: newId(), tokens: 10 + i };
        expect(
          await past.reserve({ requestId: a.id, tenantId: tenant, acceptedAt: new Date() }, a.tokens),
        ).toEqual({
          outcome: 'reserved',
        });
        abandoned.push(a);
      }
    }
    // Some finished requests, then drift: a phantom commit of E tokens in the day and month
    // buckets (Redis counts a request the ledger does not have).
    for (const tenant of tenants) {
      for (let i = 0; i < 5; i++) await request(f.quota, tenant);
    }
    const now = new Date();
    const b = bucketsFor(now);
    for (const tenant of tenants) {
      await f.redis.hincrby(f.quota.keys.bucket(tenant, b.day), 'req_used', 1);
      await f.redis.hincrby(f.quota.keys.bucket(tenant, b.day), 'tok_used', E);
      await f.redis.hincrby(f.quota.keys.bucket(tenant, b.month), 'tok_used', E);
    }

    // Live traffic: reserve, ledger row, commit, each with exactly E tokens, until told to stop.
    let stop = false;
    let served = 0;
    const traffic = Promise.all(
      tenants.flatMap((tenant) =>
        Array.from({ length: 3 }, async (_, lane) => {
          while (!stop) {
            await request(replicas[lane % N]!.quota, tenant);
            served++;
          }
        }),
      ),
    );

    const reclaimed: number[] = [];
    const audits: Map<string, BucketDrift[]>[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const [sweeps, audited] = await Promise.all([
          Promise.all(replicas.map((r) => r.sweeper.sweepOnce())),
          Promise.all(replicas.map((r) => r.auditor.auditAll(true))),
        ]);
        reclaimed.push(...sweeps);
        audits.push(...audited);
      }
    } finally {
      stop = true;
      await traffic;
    }
    expect(served).toBeGreaterThan(50);

    // Each abandoned reservation reclaimed exactly once.
    expect(reclaimed.reduce((a, n) => a + n, 0)).toBe(abandoned.length);
    expect(await counterSum(replicas, 'inference_quota_reservations_reclaimed_total')).toBe(abandoned.length);
    for (const a of abandoned) expect(await f.quota.reservationState(a.tenant, a.id)).toBe('expired');

    // Each drifted bucket corrected by exactly one replica, once; nothing else corrected.
    for (const tenant of tenants) {
      const fixes = audits.flatMap((m) => (m.get(tenant) ?? []).filter((d) => d.fixed));
      expect(fixes.map((d) => d.window).sort()).toEqual(['day', 'month']);
      for (const d of fixes)
        expect(d).toMatchObject({ requestsDrift: d.window === 'day' ? -1 : 0, tokensDrift: -E });
    }
    expect(await counterSum(replicas, 'inference_quota_corrections_total')).toBe(2 * tenants.length);

    // Redis equals the ledger; nothing is left reserved.
    for (const tenant of tenants) {
      for (const bucket of [b.day, b.month]) {
        const { rows } = await f.pool.query<{ n: string; tok: string }>(
          `SELECT count(*) AS n, COALESCE(sum(total_tokens), 0) AS tok FROM usage_ledger
         WHERE tenant_id = $1 AND window_at >= $2 AND window_at < $3`,
          [tenant, bucketStart(bucket), bucket.resetsAt],
        );
        const h = await f.redis.hgetall(f.quota.keys.bucket(tenant, bucket));
        expect({ tok: Number(h.tok_used), res: Number(h.tok_res) }).toEqual({
          tok: Number(rows[0]!.tok),
          res: 0,
        });
        if (bucket.kind === 'day') expect(Number(h.req_used)).toBe(Number(rows[0]!.n));
      }
      const st = await f.quota.status(tenant);
      expect(st.max_in_flight.reserved).toBe(0);
      for (const d of await replicas[0]!.auditor.audit(tenant, false)) {
        expect(d).toMatchObject({ requestsDrift: 0, tokensDrift: 0 });
      }
    }

    /** One request as the system runs it: reserve, ledger row (PostgreSQL first), Redis commit. */
    async function request(quota: QuotaStore, tenant: string): Promise<void> {
      const ref = { requestId: newId(), tenantId: tenant, acceptedAt: new Date() };
      expect((await quota.reserve(ref, E)).outcome).toBe('reserved');
      await f.ledgerRow(tenant, ref.requestId, E, ref.acceptedAt);
      expect((await quota.commit(ref, E)).outcome).toBe('settled');
    }
  },
);

import { randomUUID } from 'node:crypto';
import { quotaFixture } from '../support/quota-fixture';
import { PgQuotaStateSource, type QuotaStateSource } from '../../src/quota/quota-state-source';

type Fixture = Awaited<ReturnType<typeof quotaFixture>>;
let f: Fixture;
afterEach(async () => {
  await f?.close();
});

const ref = (tenantId: string, at = new Date()) => ({
  requestId: `inf_${randomUUID().replace(/-/g, '')}`,
  tenantId,
  acceptedAt: at,
});

test('reserve, commit and release are idempotent; commit after release and release after commit are no-ops', async () => {
  f = await quotaFixture({
    tokens_per_day: 1000,
    requests_per_minute: 100,
    requests_per_day: 100,
    max_in_flight: 10,
  });
  const a = ref(f.tenantId);
  expect(await f.quota.reserve(a, 100)).toEqual({ outcome: 'reserved' });
  expect(await f.quota.reserve(a, 100)).toEqual({ outcome: 'exists', state: 'reserved' });
  let st = await f.quota.status(f.tenantId);
  expect(st.tokens_per_day).toMatchObject({ used: 0, reserved: 100, remaining: 900 });
  expect(st.max_in_flight.reserved).toBe(1);

  expect(await f.quota.commit(a, 40)).toEqual({ outcome: 'settled', from: 'reserved' });
  expect(await f.quota.commit(a, 40)).toEqual({ outcome: 'noop', state: 'committed' });
  expect(await f.quota.release(a)).toEqual({ outcome: 'noop', state: 'committed' });
  st = await f.quota.status(f.tenantId);
  expect(st.tokens_per_day).toMatchObject({ used: 40, reserved: 0 });
  expect(st.requests_per_day).toMatchObject({ used: 1, reserved: 0 });
  expect(st.max_in_flight.reserved).toBe(0);

  const b = ref(f.tenantId);
  await f.quota.reserve(b, 50);
  expect(await f.quota.release(b)).toEqual({ outcome: 'settled', from: 'reserved' });
  expect(await f.quota.release(b)).toEqual({ outcome: 'noop', state: 'released' });
  expect(await f.quota.commit(b, 50)).toEqual({ outcome: 'noop', state: 'released' });
  // A settled request id cannot be reserved again.
  expect(await f.quota.reserve(b, 50)).toEqual({ outcome: 'exists', state: 'released' });
  st = await f.quota.status(f.tenantId);
  expect(st.tokens_per_day).toMatchObject({ used: 40, reserved: 0 });
  expect(st.requests_per_day).toMatchObject({ used: 1, reserved: 0 });
});

test('a settled record keeps only what idempotency and the audit read, with its retention', async () => {
  const recordRetentionS = 259_200; // not the default, so the record's TTL is shown to come from it
  f = await quotaFixture(
    { tokens_per_day: 1000, requests_per_day: 100, max_in_flight: 10 },
    { recordRetentionS },
  );
  const a = ref(f.tenantId);
  const b = ref(f.tenantId);
  await f.quota.reserve(a, 100);
  await f.quota.reserve(b, 100);
  const record = (r: { requestId: string }) => f.quota.keys.record(f.tenantId, r.requestId);
  expect(Object.keys(await f.redis.hgetall(record(a))).sort()).toEqual(
    ['at', 'kM', 'kd', 'km', 'state', 'tokens'].sort(),
  );
  await f.quota.commit(a, 40);
  await f.quota.release(b);
  expect(Object.keys(await f.redis.hgetall(record(a))).sort()).toEqual(['actual', 'cep', 'cseq', 'state']);
  expect(await f.redis.hgetall(record(b))).toEqual({ state: 'released' });
  for (const r of [a, b]) {
    const ttl = await f.redis.ttl(record(r));
    expect(ttl).toBeGreaterThan(recordRetentionS - 60);
    expect(ttl).toBeLessThanOrEqual(recordRetentionS);
    // Still idempotent, and still not reservable again.
    expect(await f.quota.reserve(r, 10)).toMatchObject({ outcome: 'exists' });
  }
  expect(await f.quota.commit(a, 40)).toEqual({ outcome: 'noop', state: 'committed' });
  expect(await f.quota.release(b)).toEqual({ outcome: 'noop', state: 'released' });
  expect((await f.quota.status(f.tenantId)).tokens_per_day).toMatchObject({ used: 40, reserved: 0 });
});

test('every limit refuses with its own name', async () => {
  f = await quotaFixture({
    tokens_per_day: 1000,
    tokens_per_month: 1000,
    requests_per_minute: 2,
    requests_per_day: 100,
    max_in_flight: 1,
  });
  const a = ref(f.tenantId);
  await f.quota.reserve(a, 10);
  expect(await f.quota.reserve(ref(f.tenantId), 10)).toMatchObject({
    outcome: 'refused',
    limit: 'max_in_flight',
    limitValue: 1,
  });
  await f.quota.commit(a, 10);
  await f.tenants.setLimits(f.tenantId, { max_in_flight: 100 });
  await f.quota.setLimits(f.tenantId, (await f.tenants.get(f.tenantId))!.limits);
  await f.quota.commit((await f.quota.reserve(ref(f.tenantId), 10), ref(f.tenantId)), 0);
  expect(await f.quota.reserve(ref(f.tenantId), 10)).toMatchObject({
    outcome: 'refused',
    limit: 'requests_per_minute',
  });
  await f.tenants.setLimits(f.tenantId, { requests_per_minute: 100 });
  await f.quota.setLimits(f.tenantId, (await f.tenants.get(f.tenantId))!.limits);
  expect(await f.quota.reserve(ref(f.tenantId), 2000)).toMatchObject({
    outcome: 'refused',
    limit: 'tokens_per_day',
    limitValue: 1000,
  });
  await f.tenants.setLimits(f.tenantId, { tokens_per_day: 5000 });
  await f.quota.setLimits(f.tenantId, (await f.tenants.get(f.tenantId))!.limits);
  expect(await f.quota.reserve(ref(f.tenantId), 2000)).toMatchObject({
    outcome: 'refused',
    limit: 'tokens_per_month',
  });
});

test('1,000 concurrent reserves against a limit that admits exactly K admit exactly K', async () => {
  const K = 37;
  f = await quotaFixture({
    tokens_per_day: K * 100,
    requests_per_minute: 100000,
    requests_per_day: 100000,
    max_in_flight: 100000,
  });
  // Two stores = two replicas sharing Redis.
  const replicas = [f.quota, f.make()];
  const results = await Promise.all(
    Array.from({ length: 1000 }, (_, i) => replicas[i % 2]!.reserve(ref(f.tenantId), 100)),
  );
  expect(results.filter((r) => r.outcome === 'reserved')).toHaveLength(K);
  expect(results.filter((r) => r.outcome === 'refused')).toHaveLength(1000 - K);
  const st = await f.quota.status(f.tenantId);
  expect(st.tokens_per_day.reserved).toBe(K * 100);
});

test('a reservation before midnight committed after it is charged to the day it was reserved in', async () => {
  let now = new Date('2026-11-22T23:59:59.000Z');
  f = await quotaFixture({ tokens_per_day: 1000 }, { now: () => now });
  const a = ref(f.tenantId, now);
  await f.quota.reserve(a, 100);
  now = new Date('2026-11-23T00:00:05.000Z');
  await f.quota.commit(a, 60);
  const nextDay = await f.quota.status(f.tenantId);
  expect(nextDay.tokens_per_day).toMatchObject({ used: 0, reserved: 0 });
  now = new Date('2026-11-22T23:59:59.500Z');
  const prevDay = await f.quota.status(f.tenantId);
  expect(prevDay.tokens_per_day).toMatchObject({ used: 60, reserved: 0 });
});

test('an abandoned reservation is reclaimed after the TTL; a late commit still charges the actual usage', async () => {
  let now = new Date();
  f = await quotaFixture({ tokens_per_day: 1000 }, { now: () => now, reservationTtlS: 60 });
  const a = ref(f.tenantId, now);
  await f.quota.reserve(a, 300);
  expect(await f.quota.sweep(f.tenantId)).toEqual([]);
  now = new Date(now.getTime() + 61_000);
  expect(await f.quota.sweep(f.tenantId)).toEqual([{ requestId: a.requestId, tokens: 300 }]);
  expect(await f.quota.reservationState(f.tenantId, a.requestId)).toBe('expired');
  let st = await f.quota.status(f.tenantId);
  expect(st.tokens_per_day.reserved).toBe(0);
  expect(st.max_in_flight.reserved).toBe(0);
  expect(await f.quota.commit(a, 120)).toEqual({ outcome: 'settled', from: 'expired' });
  st = await f.quota.status(f.tenantId);
  expect(st.tokens_per_day).toMatchObject({ used: 120, reserved: 0 });
});

test('limits changed in PostgreSQL and pushed apply to the next reservation', async () => {
  f = await quotaFixture({ tokens_per_day: 100 });
  expect((await f.quota.reserve(ref(f.tenantId), 150)).outcome).toBe('refused');
  const t = await f.tenants.setLimits(f.tenantId, { tokens_per_day: 200 });
  await f.quota.setLimits(f.tenantId, t!.limits);
  expect((await f.quota.reserve(ref(f.tenantId), 150)).outcome).toBe('reserved');
});

test('a limits change is not lost to a rebuild from a snapshot taken before it (another process loading the tenant)', async () => {
  f = await quotaFixture({ tokens_per_day: 100 });
  // Process A loads the tenant from PostgreSQL (old limits) and is slow to install it in Redis.
  const real = new PgQuotaStateSource(f.pool);
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let snapshotTaken!: () => void;
  const taken = new Promise<void>((resolve) => (snapshotTaken = resolve));
  const slow: QuotaStateSource = {
    async loadTenant(tenantId, rangesFor) {
      const state = await real.loadTenant(tenantId, rangesFor);
      snapshotTaken();
      await gate;
      return state;
    },
  };
  const a = f.make({ source: slow });
  const rebuilding = a.rebuildTenant(f.tenantId);
  await taken;
  // Meanwhile an operator raises the limit (PUT /admin/tenants/:id/limits in process B).
  const t = await f.tenants.setLimits(f.tenantId, { tokens_per_day: 200 });
  await f.quota.setLimits(f.tenantId, t!.limits);
  open();
  await rebuilding;
  expect((await f.quota.status(f.tenantId)).tokens_per_day).toMatchObject({ limit: 200 });
  expect((await f.quota.reserve(ref(f.tenantId), 150)).outcome).toBe('reserved');
});

import { randomUUID } from 'node:crypto';
import { quotaFixture } from '../support/quota-fixture';
import { RequestsRepo } from '../../src/requests/requests-repo';
import { CLEAR_AT_REST } from '../../src/codec/at-rest-sealer';

/**
 * extend.lua against real Redis: a reservation grows slice by slice up to the tenant's token limits
 * and never past them, a retried slice never counts twice, and settle, sweep and a rebuild from
 * PostgreSQL all know the extended amount.
 */

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

const limits = (tokens_per_day: number, tokens_per_month = 1_000_000) => ({
  tokens_per_day,
  tokens_per_month,
  requests_per_minute: 100,
  requests_per_day: 100,
  max_in_flight: 10,
});

test('a slice grows the reservation to its target once; a repeat (a retried extension) grants nothing more', async () => {
  f = await quotaFixture(limits(1000));
  const a = ref(f.tenantId);
  await f.quota.reserve(a, 150); // prompt 50 + first slice 100
  expect(await f.quota.extend(a, 2, 250)).toEqual({ outcome: 'granted', reserved: 250 });
  expect(await f.quota.extend(a, 2, 250)).toEqual({ outcome: 'granted', reserved: 250 });
  // An older slice, retried late, is already covered.
  expect(await f.quota.extend(a, 1, 150)).toEqual({ outcome: 'granted', reserved: 250 });
  expect((await f.quota.status(f.tenantId)).tokens_per_day).toMatchObject({ used: 0, reserved: 250 });
  const rec = await f.redis.hgetall(f.quota.keys.record(f.tenantId, a.requestId));
  expect(rec).toMatchObject({ state: 'reserved', tokens: '250', slices: '2' });
  // Concurrent duplicates of the next slice (two replicas retrying) count once.
  const dup = await Promise.all([0, 1, 2].map(() => f.quota.extend(a, 3, 350)));
  expect(dup.every((r) => r.outcome === 'granted')).toBe(true);
  expect((await f.quota.status(f.tenantId)).tokens_per_day.reserved).toBe(350);
});

test('at the limit a slice is granted in part, then refused, naming the limit; the limit is reached, never passed', async () => {
  f = await quotaFixture(limits(400));
  const a = ref(f.tenantId);
  const b = ref(f.tenantId);
  await f.quota.reserve(a, 150);
  await f.quota.reserve(b, 150);
  // 400 - 300 = 100 left: a's slice (target 300) gets 100 of its 150.
  expect(await f.quota.extend(a, 2, 300)).toEqual({ outcome: 'partial', reserved: 250 });
  // Nothing left: the rest of a's slice, retried, and b's slice are refused.
  expect(await f.quota.extend(a, 2, 300)).toMatchObject({
    outcome: 'refused',
    limit: 'tokens_per_day',
    limitValue: 400,
    used: 0,
    reserved: 400,
    reservedByRequest: 250,
  });
  expect(await f.quota.extend(b, 2, 300)).toMatchObject({ outcome: 'refused', reservedByRequest: 150 });
  expect((await f.quota.status(f.tenantId)).tokens_per_day).toMatchObject({ reserved: 400, remaining: 0 });

  // b ends early: what it never used (90) is free again; a's slice takes what it lacks, then its
  // next slice takes the rest.
  await f.quota.commit(b, 60);
  expect(await f.quota.extend(a, 2, 300)).toEqual({ outcome: 'granted', reserved: 300 });
  expect(await f.quota.extend(a, 3, 400)).toEqual({ outcome: 'partial', reserved: 340 });
  expect((await f.quota.status(f.tenantId)).tokens_per_day).toMatchObject({ used: 60, reserved: 340 });
});

test('the month limit bounds a slice too', async () => {
  f = await quotaFixture(limits(10_000, 300));
  const a = ref(f.tenantId);
  await f.quota.reserve(a, 200);
  expect(await f.quota.extend(a, 2, 400)).toEqual({ outcome: 'partial', reserved: 300 });
  expect(await f.quota.extend(a, 2, 400)).toMatchObject({ outcome: 'refused', limit: 'tokens_per_month' });
});

test('commit and release settle the extended reservation whole; a settled or unknown one is not extended', async () => {
  f = await quotaFixture(limits(1000));
  const a = ref(f.tenantId);
  const b = ref(f.tenantId);
  await f.quota.reserve(a, 100);
  await f.quota.reserve(b, 100);
  await f.quota.extend(a, 2, 300);
  await f.quota.extend(b, 2, 300);
  await f.quota.commit(a, 280);
  await f.quota.release(b);
  expect((await f.quota.status(f.tenantId)).tokens_per_day).toMatchObject({ used: 280, reserved: 0 });
  expect(Object.keys(await f.redis.hgetall(f.quota.keys.record(f.tenantId, a.requestId))).sort()).toEqual([
    'actual',
    'cep',
    'cseq',
    'state',
  ]);
  expect(await f.quota.extend(a, 3, 400)).toEqual({ outcome: 'settled', state: 'committed' });
  expect(await f.quota.extend(b, 3, 400)).toEqual({ outcome: 'settled', state: 'released' });
  expect(await f.quota.extend(ref(f.tenantId), 2, 400)).toEqual({ outcome: 'missing' });
  expect((await f.quota.status(f.tenantId)).tokens_per_day).toMatchObject({ used: 280, reserved: 0 });
});

test('the sweeper reclaims an abandoned reservation with its slices', async () => {
  let now = Date.now();
  f = await quotaFixture(limits(1000), { now: () => new Date(now), reservationTtlS: 60 });
  const a = ref(f.tenantId, new Date(now));
  await f.quota.reserve(a, 100);
  await f.quota.extend(a, 2, 200);
  await f.quota.extend(a, 3, 300);
  now += 61_000;
  expect(await f.quota.sweep(f.tenantId)).toEqual([{ requestId: a.requestId, tokens: 300 }]);
  expect((await f.quota.status(f.tenantId)).tokens_per_day).toMatchObject({ used: 0, reserved: 0 });
  // Swept: no more slices; its late commit still counts its usage once.
  expect(await f.quota.extend(a, 4, 400)).toEqual({ outcome: 'settled', state: 'expired' });
  await f.quota.commit(a, 250);
  expect((await f.quota.status(f.tenantId)).tokens_per_day).toMatchObject({ used: 250, reserved: 0 });
});

test('a rebuild from PostgreSQL restores the extended reservation the GPU worker persisted before Redis', async () => {
  f = await quotaFixture(limits(1000));
  const repo = new RequestsRepo(f.pool, CLEAR_AT_REST);
  const a = ref(f.tenantId);
  await repo.insertQueued({
    requestId: a.requestId,
    tenantId: f.tenantId,
    model: 'm',
    prompt: 'x',
    maxTokens: 900,
    promptTokens: 50,
    estimatedTokens: 150,
    acceptedAt: a.acceptedAt.toISOString(),
    gpuTaskQueue: 'q',
    modelCall: { timeoutMs: 1000, maxAttempts: 1 },
    priority: { priorityKey: 3, fairnessKey: f.tenantId },
  });
  await f.quota.reserve(a, 150);
  // The worker's order: PostgreSQL first, then Redis.
  await repo.raiseReservation(a.requestId, 250);
  await f.quota.extend(a, 2, 250);
  await repo.raiseReservation(a.requestId, 200); // a late, lower write never lowers it
  await f.quota.forceRebuild(f.tenantId);
  expect((await f.quota.status(f.tenantId)).tokens_per_day).toMatchObject({ reserved: 250 });
  // The slice is still covered after the rebuild (which keeps tokens, not the slice index).
  expect(await f.quota.extend(a, 2, 250)).toEqual({ outcome: 'granted', reserved: 250 });
  expect(await f.quota.extend(a, 3, 350)).toEqual({ outcome: 'granted', reserved: 350 });
  expect((await f.quota.status(f.tenantId)).tokens_per_day).toMatchObject({ reserved: 350 });
});

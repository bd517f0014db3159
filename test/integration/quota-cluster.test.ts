import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { loadConfig } from '../../src/config/load-config';
import { createLogger } from '../../src/observability/logger';
import { createMetrics } from '../../src/observability/metrics';
import { QuotaAuditor } from '../../src/quota/quota-audit';
import { QuotaSweeper } from '../../src/quota/quota-sweeper';
import { createQuotaRedis } from '../../src/quota/redis-client';
import { deleteKeys, quotaFixture } from '../support/quota-fixture';
import { startRedisCluster, type LocalRedisCluster } from '../support/redis-cluster';

/**
 * The quota scripts on a real 3-node Redis Cluster (redis-server from PATH; fails loudly without
 * it), for tenants whose hash tags land on different nodes.
 */
let cluster: LocalRedisCluster;
let client: Cluster;
let second: Cluster;
beforeAll(async () => {
  cluster = await startRedisCluster(3);
  // As production builds it: the factory, given only REDIS_CLUSTER_NODES (one seed is enough).
  const cfg = loadConfig({ APP_ENV: 'development', REDIS_CLUSTER_NODES: `127.0.0.1:${cluster.ports[0]}` });
  const made = createQuotaRedis(cfg, 'quota-cluster-test');
  if (!(made instanceof Cluster)) throw new Error('REDIS_CLUSTER_NODES did not give a cluster client');
  client = made;
  second = cluster.connect();
}, 60_000);
afterAll(async () => {
  await Promise.allSettled([client?.quit(), second?.quit()]);
  await cluster?.stop();
});

type Fixture = Awaited<ReturnType<typeof quotaFixture>>;
let f: Fixture;
afterEach(async () => {
  await f?.close();
});

const LIMITS = {
  tokens_per_day: 1000,
  requests_per_minute: 1000,
  requests_per_day: 1000,
  max_in_flight: 1000,
};
const ref = (tenantId: string, at = new Date()) => ({
  requestId: `inf_${randomUUID().replace(/-/g, '')}`,
  tenantId,
  acceptedAt: at,
});
const silent = createLogger({ component: 'test', level: 'silent' });

/** The fixture's tenant plus more, until one tenant lives on each node; returns them in node order. */
async function tenantPerNode(fx: Fixture, limits = LIMITS): Promise<string[]> {
  const byNode = new Map<number, string>([
    [await cluster.nodeOf(fx.quota.keys.limits(fx.tenantId)), fx.tenantId],
  ]);
  for (let i = 0; byNode.size < cluster.ports.length; i++) {
    if (i > 200) throw new Error('no tenant id found for every node');
    const id = `${fx.tenantId}-${i}`;
    const node = await cluster.nodeOf(fx.quota.keys.limits(id));
    if (!byNode.has(node)) byNode.set(node, await fx.addTenant(id, limits));
  }
  await fx.tenants.setLimits(fx.tenantId, limits);
  return cluster.ports.map((p) => byNode.get(p)!);
}

test('createQuotaRedis: a cluster client with REDIS_CLUSTER_NODES, one server without', async () => {
  expect(await client.ping()).toBe('PONG');
  expect(
    client
      .nodes('master')
      .map((n) => n.options.port)
      .sort(),
  ).toEqual([...cluster.ports].sort());
  const single = createQuotaRedis(
    loadConfig({ APP_ENV: 'development', REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' }),
    'quota-cluster-test',
  );
  try {
    expect(single).toBeInstanceOf(Redis);
    expect(await single.ping()).toBe('PONG');
  } finally {
    await single.quit();
  }
});

test('reserve, commit, release, sweep and status on tenants spread over every node', async () => {
  let now = new Date();
  f = await quotaFixture(LIMITS, { now: () => now, reservationTtlS: 60 }, { redis: client });
  const ids = await tenantPerNode(f);
  expect(new Set(await Promise.all(ids.map((t) => cluster.nodeOf(f.quota.keys.limits(t)))))).toEqual(
    new Set(cluster.ports),
  );
  const sweeper = new QuotaSweeper(f.quota, createMetrics('test'), silent, 60);
  const abandoned = new Map<string, ReturnType<typeof ref>>();
  for (const t of ids) {
    const a = ref(t, now);
    const b = ref(t, now);
    const c = ref(t, now);
    expect(await f.quota.reserve(a, 100)).toEqual({ outcome: 'reserved' });
    expect(await f.quota.reserve(a, 100)).toEqual({ outcome: 'exists', state: 'reserved' });
    expect(await f.quota.reserve(b, 50)).toEqual({ outcome: 'reserved' });
    expect(await f.quota.reserve(c, 30)).toEqual({ outcome: 'reserved' });
    expect(await f.quota.commit(a, 70)).toEqual({ outcome: 'settled', from: 'reserved' });
    expect(await f.quota.release(a)).toEqual({ outcome: 'noop', state: 'committed' });
    expect(await f.quota.release(b)).toEqual({ outcome: 'settled', from: 'reserved' });
    expect(await f.quota.commit(b, 50)).toEqual({ outcome: 'noop', state: 'released' });
    const st = await f.quota.status(t);
    expect(st.tokens_per_day).toMatchObject({ used: 70, reserved: 30, remaining: 900 });
    expect(st.requests_per_day).toMatchObject({ used: 1, reserved: 1 });
    expect(st.max_in_flight.reserved).toBe(1);
    abandoned.set(t, c);
  }
  expect((await f.quota.tenants()).sort()).toEqual([...ids].sort());

  expect(await sweeper.sweepOnce()).toBe(0);
  now = new Date(now.getTime() + 61_000);
  expect(await sweeper.sweepOnce()).toBe(ids.length);
  expect(await sweeper.sweepOnce()).toBe(0);
  for (const t of ids) {
    const c = abandoned.get(t)!;
    expect(await f.quota.reservationState(t, c.requestId)).toBe('expired');
    // The windows are those of the reservation's acceptance, a minute ago.
    now = c.acceptedAt;
    let st = await f.quota.status(t);
    expect(st.tokens_per_day).toMatchObject({ used: 70, reserved: 0 });
    expect(st.max_in_flight.reserved).toBe(0);
    expect(await f.quota.commit(c, 20)).toEqual({ outcome: 'settled', from: 'expired' });
    st = await f.quota.status(t);
    expect(st.tokens_per_day).toMatchObject({ used: 90, reserved: 0 });
    expect(st.requests_per_day).toMatchObject({ used: 2, reserved: 0 });
    expect(st.requests_per_minute).toMatchObject({ used: 2, reserved: 0 });
  }
});

test('rebuild from the ledger, forced rebuild, and audit with correction on every node', async () => {
  f = await quotaFixture(LIMITS, {}, { redis: client });
  const ids = await tenantPerNode(f);
  const metrics = createMetrics('test');
  const auditor = new QuotaAuditor({
    pool: f.pool,
    redis: client,
    quota: f.quota,
    metrics,
    logger: silent,
    confirmDelayS: 0,
  });
  const at = new Date();
  const open = new Map<string, ReturnType<typeof ref>>();
  for (const t of ids) {
    const done = ref(t, at);
    await f.quota.reserve(done, 100);
    await f.ledgerRow(t, done.requestId, 80, at);
    await f.quota.commit(done, 80);
    const o = ref(t, at);
    await f.pool.query(
      `INSERT INTO requests (id, tenant_id, model, status, max_tokens, prompt_tokens, estimated_tokens, accepted_at)
       VALUES ($1, $2, 'm', 'running', 10, 5, 60, $3)`,
      [o.requestId, t, at],
    );
    await f.quota.reserve(o, 60);
    open.set(t, o);
  }
  for (const t of ids) {
    // Redis lost the tenant: the next operation rebuilds it from the ledger and the open request.
    await deleteKeys(client, `${f.prefix}:{t:${t}}:*`);
    expect((await f.quota.status(t)).tokens_per_day).toMatchObject({ used: 80, reserved: 60 });
    await f.quota.forceRebuild(t);
    expect((await f.quota.status(t)).tokens_per_day).toMatchObject({ used: 80, reserved: 60 });
    expect((await f.quota.status(t)).max_in_flight.reserved).toBe(1);
  }
  // The registry survives key loss: a rebuild puts the tenant back.
  expect((await f.quota.tenants()).sort()).toEqual([...ids].sort());

  let all = await auditor.auditAll(false);
  for (const t of ids)
    expect(all.get(t)!.every((d) => d.tokensDrift === 0 && d.requestsDrift === 0)).toBe(true);
  for (const t of ids) {
    const day = all.get(t)!.find((d) => d.window === 'day')!;
    await client.hincrby(day.key, 'tok_used', -30);
  }
  all = await auditor.auditAll(false);
  for (const t of ids)
    expect(all.get(t)!.find((d) => d.window === 'day')).toMatchObject({ tokensDrift: 30, fixed: false });
  all = await auditor.auditAll(true);
  for (const t of ids)
    expect(all.get(t)!.find((d) => d.window === 'day')).toMatchObject({ tokensDrift: 30, fixed: true });
  all = await auditor.auditAll(true);
  for (const t of ids) expect(all.get(t)!.every((d) => d.tokensDrift === 0 && !d.fixed)).toBe(true);

  for (const t of ids) {
    const o = open.get(t)!;
    await f.pool.query(`UPDATE requests SET status = 'completed' WHERE id = $1`, [o.requestId]);
    await f.ledgerRow(t, o.requestId, 25, at, false);
    expect(await f.quota.commit(o, 25)).toEqual({ outcome: 'settled', from: 'reserved' });
    const st = await f.quota.status(t);
    expect(st.tokens_per_day).toMatchObject({ used: 105, reserved: 0 });
    expect(st.requests_per_day).toMatchObject({ used: 2, reserved: 0 });
    expect((await auditor.audit(t, false)).every((d) => d.tokensDrift === 0 && d.requestsDrift === 0)).toBe(
      true,
    );
  }
});

test('concurrent reserve bursts from two clients never overshoot any tenant', async () => {
  const K = [17, 29, 41];
  f = await quotaFixture(LIMITS, {}, { redis: client });
  const ids = await tenantPerNode(f);
  for (const [i, t] of ids.entries()) {
    await f.tenants.setLimits(t, { ...LIMITS, tokens_per_day: K[i]! * 100 });
  }
  // Two stores on two cluster clients = two replicas.
  const replicas = [f.quota, f.make({ redis: second })];
  const N = 300;
  const results = await Promise.all(
    Array.from({ length: N * ids.length }, (_, i) =>
      replicas[i % 2]!.reserve(ref(ids[i % ids.length]!), 100).then((r) => ({ t: ids[i % ids.length]!, r })),
    ),
  );
  for (const [i, t] of ids.entries()) {
    const mine = results.filter((x) => x.t === t).map((x) => x.r);
    expect(mine.filter((r) => r.outcome === 'reserved')).toHaveLength(K[i]!);
    expect(mine.filter((r) => r.outcome === 'refused')).toHaveLength(N - K[i]!);
    const st = await f.quota.status(t);
    expect(st.tokens_per_day).toMatchObject({ used: 0, reserved: K[i]! * 100, remaining: 0 });
    expect(st.max_in_flight.reserved).toBe(K[i]!);
  }
});

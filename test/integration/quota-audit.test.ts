import { randomUUID } from 'node:crypto';
import { QuotaAuditor } from '../../src/quota/quota-audit';
import { createLogger } from '../../src/observability/logger';
import { createMetrics } from '../../src/observability/metrics';
import { quotaFixture } from '../support/quota-fixture';

type Fixture = Awaited<ReturnType<typeof quotaFixture>>;
let f: Fixture;
afterEach(async () => {
  await f?.close();
});

test('audit finds drift, reports it as a metric, and corrects it; in-progress commits are not drift', async () => {
  f = await quotaFixture({ tokens_per_day: 100_000 });
  const metrics = createMetrics('test');
  const auditor = new QuotaAuditor({
    pool: f.pool,
    redis: f.redis,
    quota: f.quota,
    metrics,
    logger: createLogger({ component: 't', level: 'silent' }),
    confirmDelayS: 0,
  });
  const at = new Date();

  // A normal request: reserved, ledger written, committed.
  const a = { requestId: `inf_${randomUUID().replace(/-/g, '')}`, tenantId: f.tenantId, acceptedAt: at };
  await f.quota.reserve(a, 100);
  await f.ledgerRow(f.tenantId, a.requestId, 70, at);
  await f.quota.commit(a, 70);
  // A request between its ledger write and its Redis commit: not drift.
  const b = { requestId: `inf_${randomUUID().replace(/-/g, '')}`, tenantId: f.tenantId, acceptedAt: at };
  await f.quota.reserve(b, 50);
  await f.ledgerRow(f.tenantId, b.requestId, 40, at);

  let drift = await auditor.audit(f.tenantId, false);
  expect(drift.every((d) => d.tokensDrift === 0 && d.requestsDrift === 0)).toBe(true);

  // Corrupt Redis: usage lost.
  const day = drift.find((d) => d.window === 'day')!;
  await f.redis.hincrby(day.key, 'tok_used', -30);
  drift = await auditor.audit(f.tenantId, false);
  expect(drift.find((d) => d.window === 'day')).toMatchObject({ tokensDrift: 30, fixed: false });
  const gauge = await metrics.quotaDrift.get();
  expect(gauge.values.find((v) => v.labels.window === 'day' && v.labels.unit === 'tokens')?.value).toBe(30);

  drift = await auditor.audit(f.tenantId, true);
  expect(drift.find((d) => d.window === 'day')).toMatchObject({ tokensDrift: 30, fixed: true });
  expect((await auditor.audit(f.tenantId, false)).every((d) => d.tokensDrift === 0)).toBe(true);

  // Completing b's commit keeps everything consistent.
  await f.quota.commit(b, 40);
  expect(
    (await auditor.audit(f.tenantId, false)).every((d) => d.tokensDrift === 0 && d.requestsDrift === 0),
  ).toBe(true);
  expect((await f.quota.status(f.tenantId)).tokens_per_day).toMatchObject({ used: 110, reserved: 0 });
});

test('Redis flushed: counters are rebuilt from the ledger and open requests; nothing is charged twice', async () => {
  f = await quotaFixture({ tokens_per_day: 100_000 });
  const at = new Date();
  const done = { requestId: `inf_${randomUUID().replace(/-/g, '')}`, tenantId: f.tenantId, acceptedAt: at };
  await f.quota.reserve(done, 100);
  await f.ledgerRow(f.tenantId, done.requestId, 80, at);
  await f.quota.commit(done, 80);
  // An open request: row queued in PostgreSQL, reservation in Redis.
  const open = { requestId: `inf_${randomUUID().replace(/-/g, '')}`, tenantId: f.tenantId, acceptedAt: at };
  await f.pool.query(
    `INSERT INTO requests (id, tenant_id, model, status, max_tokens, prompt_tokens, estimated_tokens, accepted_at)
     VALUES ($1, $2, 'm', 'running', 10, 5, 60, $3)`,
    [open.requestId, f.tenantId, at],
  );
  await f.quota.reserve(open, 60);

  await f.flush();
  // First touch rebuilds: used from the ledger, the open request reserved again.
  expect((await f.quota.status(f.tenantId)).tokens_per_day).toMatchObject({ used: 80, reserved: 60 });
  // A retried commit of the already-counted request changes nothing.
  expect(await f.quota.commit(done, 80)).toEqual({ outcome: 'missing' });
  // The open request commits normally against its rebuilt reservation.
  await f.pool.query(`UPDATE requests SET status = 'completed' WHERE id = $1`, [open.requestId]);
  await f.ledgerRow(f.tenantId, open.requestId, 25, at, false);
  expect(await f.quota.commit(open, 25)).toEqual({ outcome: 'settled', from: 'reserved' });
  expect((await f.quota.status(f.tenantId)).tokens_per_day).toMatchObject({ used: 105, reserved: 0 });

  // The operator's forced rebuild lands on the same numbers.
  await f.quota.forceRebuild(f.tenantId);
  expect((await f.quota.status(f.tenantId)).tokens_per_day).toMatchObject({ used: 105, reserved: 0 });
  expect((await f.quota.status(f.tenantId)).requests_per_day).toMatchObject({ used: 2, reserved: 0 });
});

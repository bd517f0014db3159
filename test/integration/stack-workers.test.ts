import { QuotaAuditor } from '../../src/quota/quota-audit';
import { createLogger } from '../../src/observability/logger';
import { createMetrics } from '../../src/observability/metrics';
import { expectQuotaMatchesLedger, startStack, type Stack } from '../support/stack';

/**
 * The test stack's workers are the worker processes' composition roots (workers/build-*-worker.ts),
 * so what production runs beside the activities (startup rebuild, quota audit, /readyz) runs here.
 */
let s: Stack;
beforeAll(async () => {
  s = await startStack({ env: { QUOTA_AUDIT_INTERVAL_S: '1' } });
});
afterAll(async () => {
  await s?.stop();
});

const total = (m: { values: { value: number }[] }): number => m.values.reduce((a, v) => a + v.value, 0);

test('each worker serves /readyz with the dependencies its process checks', async () => {
  const orchestration = s.node.workers.orchestration!;
  const gpu = s.node.workers.gpu[0]!;
  const orchReady = await fetch(`${orchestration.metricsUrl()}/readyz`);
  expect(orchReady.status).toBe(200);
  expect(await orchReady.json()).toEqual({
    status: 'ready',
    checks: { postgres: { status: 'ok' }, redis: { status: 'ok' }, temporal: { status: 'ok' } },
  });
  const gpuReady = await fetch(`${gpu.metricsUrl()}/readyz`);
  expect(await gpuReady.json()).toEqual({
    status: 'ready',
    checks: { postgres: { status: 'ok' }, temporal: { status: 'ok' } },
  });
  expect(gpu.queues).toEqual([s.gpuQueue]);
  // A request goes through both: the GPU worker's own registry counts the model call.
  const done = await s.waitFinished(await s.submit('roots', 5));
  expect(done.status).toBe('completed');
  expect(await (await fetch(`${gpu.metricsUrl()}/metrics`)).text()).toMatch(
    /^inference_model_calls_total\{.*\} [1-9]/m,
  );
});

test("the orchestration worker's audit corrects drift in Redis within seconds", async () => {
  const done = await s.waitFinished(await s.submit('drift', 8));
  expect(done.status).toBe('completed');
  const probe = new QuotaAuditor({
    pool: s.pool,
    redis: s.redis,
    quota: s.quota,
    metrics: createMetrics('test'),
    logger: createLogger({ component: 'test', level: 'silent' }),
    confirmDelayS: 0,
  });
  const day = (await probe.audit(s.tenantId, false)).find((d) => d.window === 'day')!;
  await s.redis.hincrby(day.key, 'tok_used', -7);
  expect((await probe.audit(s.tenantId, false)).find((d) => d.window === 'day')).toMatchObject({
    tokensDrift: 7,
  });
  const deadline = Date.now() + 15_000;
  while ((await probe.audit(s.tenantId, false)).some((d) => d.tokensDrift !== 0) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 200));
  await expectQuotaMatchesLedger(s);
});

test('a restarted orchestration worker rebuilds the counters Redis lost before it serves', async () => {
  await s.node.stopWorkers();
  const keys = await s.redis.keys(`${s.cfg.REDIS_KEY_PREFIX}:*`);
  await s.redis.del(...keys);
  await s.node.restartWorkers();
  const rebuilt = await s.node.workers.orchestration!.metrics.quotaRebuilds.get();
  expect(rebuilt.values.find((v) => v.labels.tenant === s.tenantId)?.value).toBe(1);
  expect(total(rebuilt)).toBeGreaterThanOrEqual(1);
  const done = await s.waitFinished(await s.submit('after restart', 5));
  expect(done.status).toBe('completed');
  await expectQuotaMatchesLedger(s);
});

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/dev-server';
import { expectQuotaMatchesLedger, modelStats, startStack, type Stack } from '../support/stack';

/** A GPU worker process killed with SIGKILL in the middle of a model call. */
let s: Stack;
let child: ChildProcess | undefined;
beforeAll(async () => {
  s = await startStack({ gpu: false, modelService: { decodeMsPerToken: 2 } });
});
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await s?.stop();
});

async function startGpuWorkerProcess(): Promise<ChildProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'registry-'));
  writeFileSync(join(dir, 'models.json'), JSON.stringify({ models: [s.registrySpec] }));
  const metricsPort = await freePort();
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', join(__dirname, '..', '..', 'workers', 'gpu-worker.ts')],
    {
      env: {
        ...process.env,
        DATABASE_URL: s.cfg.DATABASE_URL,
        TEMPORAL_ADDRESS: s.cfg.TEMPORAL_ADDRESS,
        MODEL_REGISTRY: join(dir, 'models.json'),
        GPU_METRICS_PORT: String(metricsPort),
        ORCHESTRATION_METRICS_PORT: String(await freePort()),
        LOG_LEVEL: 'silent',
      },
      stdio: 'ignore',
    },
  );
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error(`gpu worker exited with ${proc.exitCode}`);
    if (
      await fetch(`http://127.0.0.1:${metricsPort}/healthz`)
        .then((r) => r.ok)
        .catch(() => false)
    )
      return proc;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('gpu worker did not start');
}

test('the call is retried on another worker after the heartbeat timeout, and charged exactly once', async () => {
  child = await startGpuWorkerProcess();
  const res = await s.call('POST', '/v1/inference', {
    model: 'ref-small',
    prompt: 'survive a crash',
    max_tokens: 3000,
  });
  expect(res.status).toBe(202);
  const id = res.body.id as string;
  for (let i = 0; i < 200 && (await modelStats(s)).in_flight === 0; i++)
    await new Promise((r) => setTimeout(r, 50));
  expect((await modelStats(s)).in_flight).toBe(1);

  child.kill('SIGKILL');
  await new Promise((r) => child!.once('exit', r));
  // The dead worker's connection drops, so the model service stops generating for it.
  for (let i = 0; i < 100 && (await modelStats(s)).in_flight > 0; i++)
    await new Promise((r) => setTimeout(r, 50));
  expect((await modelStats(s)).aborted).toBeGreaterThanOrEqual(1);

  await s.node.addGpuWorker();
  const done = await s.waitFinished(id, 60_000);
  expect(done).toMatchObject({ status: 'completed', attempts: 2, usage: { completion_tokens: 3000 } });
  const { rows } = await s.pool.query('SELECT count(*)::int AS n FROM usage_ledger WHERE request_id = $1', [
    id,
  ]);
  expect(rows[0].n).toBe(1);
  await expectQuotaMatchesLedger(s);
});

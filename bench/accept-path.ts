/**
 * Accept-path benchmark: how long the API needs to answer 202/429, for the two designs the
 * foundation issue allows.
 *   direct   : reserve.lua in Redis, then StartWorkflowExecution (what the API does)
 *   update   : update-with-start; the workflow's update handler reserves (local activity) and returns
 * Both use the real QuotaStore on the local Redis/PostgreSQL and a Temporal dev server.
 *
 *   npm run bench:accept        (N=300 sequential, then N at CONCURRENCY=20)
 */
import { randomBytes } from 'node:crypto';
import { Client, Connection, WithStartWorkflowOperation } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Redis } from 'ioredis';
import { inferenceWorkflow } from '../src/contract/temporal-contract';
import { loadConfig } from '../src/config/load-config';
import { ensureDatabase, migrate } from '../src/db/migrate';
import { createPool } from '../src/db/pool';
import { startEphemeralDevServer } from '../dev/stack/temporal-dev-server';
import { PgQuotaStateSource } from '../src/quota/quota-state-source';
import { QuotaStore } from '../src/quota/quota-store';
import { TenantsRepo } from '../src/tenants/tenants-repo';
import { admitByUpdateWorkflow, admitUpdate } from './workflows/admit-by-update';

const N = Number(process.env.N ?? 300);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 20);
const pct = (xs: number[], p: number): string =>
  ([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN).toFixed(
    1,
  );

async function measure(n: number, concurrency: number, one: (i: number) => Promise<void>): Promise<number[]> {
  const lat: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t = performance.now();
        await one(i);
        lat.push(performance.now() - t);
      }
    }),
  );
  return lat;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const dbUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/inference';
  await ensureDatabase(dbUrl);
  const pool = createPool({ connectionString: dbUrl, max: 4 });
  await migrate(pool);
  const tenant = `bench-${randomBytes(3).toString('hex')}`;
  const tenants = new TenantsRepo(pool);
  await tenants.ensure({ id: tenant, name: 'bench', tier: 'enterprise' });
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const prefix = `bench-${randomBytes(3).toString('hex')}`;
  const defaults = loadConfig({ APP_ENV: 'development' });
  const quota = new QuotaStore({
    redis,
    source: new PgQuotaStateSource(pool),
    prefix,
    reservationTtlS: defaults.QUOTA_RESERVATION_TTL_S,
    recordRetentionS: defaults.QUOTA_RECORD_RETENTION_S,
  });

  const server = await startEphemeralDevServer(process.env.TEMPORAL_CLI ?? 'temporal');
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const native = await NativeConnection.connect({ address: server.address });
  const worker = await Worker.create({
    connection: native,
    taskQueue: 'accept-bench',
    workflowsPath: require.resolve('./workflows/admit-by-update'),
    activities: {
      reserve: async (id: string, tokens: number) =>
        (await quota.reserve({ requestId: id, tenantId: tenant, acceptedAt: new Date() }, tokens)).outcome !==
        'refused',
    },
  });
  const running = worker.run();

  const direct = async (i: number, tag: string): Promise<void> => {
    const id = `direct-${tag}-${i}`;
    await quota.reserve({ requestId: id, tenantId: tenant, acceptedAt: new Date() }, 100);
    // The real API starts inferenceWorkflow; the start call is the same RPC whatever the type.
    await client.workflow.start(inferenceWorkflow, {
      taskQueue: 'accept-bench-idle',
      workflowId: id,
      // Never run (no worker polls this queue): an empty input keeps the RPC's payload as before.
      args: [] as unknown as Parameters<typeof inferenceWorkflow>,
    });
  };
  const update = async (i: number, tag: string): Promise<void> => {
    const id = `update-${tag}-${i}`;
    await client.workflow.executeUpdateWithStart(admitUpdate, {
      startWorkflowOperation: new WithStartWorkflowOperation(admitByUpdateWorkflow, {
        workflowId: id,
        taskQueue: 'accept-bench',
        args: [id, 100],
        workflowIdConflictPolicy: 'FAIL',
      }),
    });
  };
  // Warm both paths (connections, workflow cache).
  await measure(20, 4, (i) => direct(i, 'warm'));
  await measure(20, 4, (i) => update(i, 'warm'));

  const rows: string[] = [];
  for (const [name, fn] of [
    ['direct (reserve + start)', direct],
    ['update-with-start', update],
  ] as const) {
    for (const c of [1, CONCURRENCY]) {
      const t0 = performance.now();
      const lat = await measure(N, c, (i) => fn(i, `c${c}`));
      const rate = (N / ((performance.now() - t0) / 1000)).toFixed(0);
      rows.push(`| ${name} | ${c} | ${pct(lat, 50)} | ${pct(lat, 99)} | ${rate} |`);
    }
  }
  console.log(`accept-path benchmark: N=${N} per row, on ${process.platform} with the Temporal dev server`);
  console.log('| path | concurrency | p50 (ms) | p99 (ms) | accepts/s |\n|---|---|---|---|---|');
  console.log(rows.join('\n'));

  worker.shutdown();
  await running;
  await connection.close();
  await native.close();
  server.proc.kill('SIGTERM');
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
  await pool.query('DELETE FROM tenants WHERE id = $1', [tenant]);
  await pool.end();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

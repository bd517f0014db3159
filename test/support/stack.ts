import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { buildApi } from '../../src/api/build-api';
import { createAtRestSealer } from '../../src/codec/at-rest-sealer';
import { createDataConverter } from '../../src/codec/data-converter';
import { loadConfig } from '../../src/config/load-config';
import type { Env } from '../../src/config/schema';
import { createPool } from '../../src/db/pool';
import { ModelRegistry } from '../../src/models/model-registry';
import { modelSpecSchema, type ModelSpec } from '../../src/models/model-spec';
import { createModelService } from '../../dev/model-service/create-model-service';
import { FAULTS_AUTH, TEST_MODEL_ADMIN_TOKEN } from './model-server';
import { createLogger } from '../../src/observability/logger';
import { createMetrics } from '../../src/observability/metrics';
import { createQuotaStore } from '../../src/quota/create-quota-store';
import type { LimitsOverride } from '../../src/tenants/limits';
import { TenantsRepo } from '../../src/tenants/tenants-repo';
import { buildGpuWorker, type GpuWorker } from '../../workers/build-gpu-worker';
import { buildApiWorker, type ApiWorker } from '../../workers/build-api-worker';
import { buildOrchestrationWorker, type OrchestrationWorker } from '../../workers/build-orchestration-worker';
import { quietRuntime } from './temporal';

quietRuntime();

/** Serves `app` on a free loopback port. */
export const listen = (app: {
  listen: (port: number, host: string, backlog: number, cb: () => void) => Server;
}): Promise<{ server: Server; url: string }> =>
  new Promise((resolve) => {
    // A backlog above Node's default 511: the quota test opens 1,000 connections at once, and on a
    // loaded 2-core machine the server accepts them slower than they arrive (seen: ECONNRESET).
    const server = app.listen(0, '127.0.0.1', 4096, () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    );
  });

/** Closes `s`, its open connections included. */
export const closeServer = (s: Server): Promise<void> =>
  new Promise((resolve) => {
    s.closeAllConnections();
    s.close(() => resolve());
  });

/** Options for {@link startStack}. */
export interface StackOptions {
  /** Reference model service settings. */
  modelService?: { slots?: number; prefillMsPerToken?: number; decodeMsPerToken?: number };
  /** Per-model registry overrides. */
  model?: {
    max_attempts?: number;
    request_timeout_ms?: number;
    reserve_slice_tokens?: number;
    /** @default 4096 */
    context_length?: number;
  };
  /** Start an in-process GPU worker. @default true */
  gpu?: boolean;
  /** Extra configuration variables (e.g. REQUEST_DEADLINE_S). */
  env?: Record<string, string>;
  /** Further registry entries beside ref-small (e.g. a real model server), on the stack's GPU queue. */
  extraModels?: (gpuQueue: string) => ModelSpec[];
}

interface Shared {
  cfg: Env;
  registry: ModelRegistry;
  logger: ReturnType<typeof createLogger>;
}

/**
 * One replica of the system's processes, in-process: API, orchestration worker and (optionally) a GPU
 * worker, each with its own PostgreSQL pool, Redis connection and Temporal connections. The workers
 * are built by the same functions as the worker processes (startup rebuild, sweeper, audit and
 * /metrics included), on free metrics ports.
 */
async function startNode(sh: Shared, withGpu: boolean) {
  const { cfg, registry, logger } = sh;
  const metrics = createMetrics('test');
  const pool: Pool = createPool({ connectionString: cfg.DATABASE_URL, max: 10 });
  const redis = new Redis(cfg.REDIS_URL);
  const tenants = new TenantsRepo(pool);
  // PAYLOAD_KEYS in `env` seals prompts and outputs at rest, as it encrypts history.
  const atRest = createAtRestSealer(cfg, { registry: metrics.registry, logger });
  const quota = createQuotaStore(cfg, { redis, pool, metrics, logger });
  const connection = await Connection.connect({ address: cfg.TEMPORAL_ADDRESS! });
  // PAYLOAD_KEYS in `env` turns payload encryption on for this node's client and workers.
  const client = new Client({ connection, dataConverter: createDataConverter(cfg) });

  const startOrchestration = async (): Promise<OrchestrationWorker> => {
    const w = await buildOrchestrationWorker(cfg, { logger, metricsPort: 0 });
    await w.start();
    await w.supervisor.started();
    return w;
  };
  const startGpu = async (): Promise<GpuWorker> => {
    const w = buildGpuWorker(cfg, { logger, registry, metricsPort: 0 });
    await w.start();
    await w.supervisor.started();
    return w;
  };
  /** The node's running workers: what the worker processes would be. */
  const workers: { orchestration?: OrchestrationWorker; gpu: GpuWorker[] } = {
    orchestration: await startOrchestration(),
    gpu: withGpu ? [await startGpu()] : [],
  };
  const stopGpuWorkers = async (): Promise<void> => {
    await Promise.all(workers.gpu.splice(0).map((w) => w.stop()));
  };

  // API_EAGER_START (off in the test stack unless a test's `env` turns it on): the API's own
  // workflow worker, as src/api/main.ts builds it.
  const apiWorker: ApiWorker | undefined = cfg.API_EAGER_START
    ? await buildApiWorker(cfg, { pool, redis, client, metrics, logger })
    : undefined;
  const built = buildApi(cfg, {
    pool,
    redis,
    client,
    registry,
    metrics,
    logger,
    ...(apiWorker ? { eager: { client: apiWorker.client, ready: () => apiWorker.ready() } } : {}),
  });
  apiWorker?.start();
  await apiWorker?.supervisor.started();
  const api = await listen(built.app);
  return {
    pool,
    redis,
    quota,
    tenants,
    client,
    metrics,
    atRest,
    apiUrl: api.url,
    workers,
    /** The API's workflow worker (API_EAGER_START), if on. */
    apiWorker,
    /** Stops this node's workers (its API keeps serving). */
    async stopWorkers() {
      const orchestration = workers.orchestration;
      workers.orchestration = undefined;
      await Promise.all([orchestration?.stop(), stopGpuWorkers()]);
    },
    /** Stops this node's GPU workers only (the orchestration worker keeps running). */
    stopGpuWorkers,
    /** Starts the orchestration worker (and the GPU worker if the node had one) after stopWorkers. */
    async restartWorkers() {
      workers.orchestration ??= await startOrchestration();
      if (withGpu && !workers.gpu.length) workers.gpu.push(await startGpu());
    },
    /** Starts (another) GPU worker in this node. */
    async addGpuWorker() {
      workers.gpu.push(await startGpu());
    },
    async stop() {
      await closeServer(api.server);
      await built.stop();
      await apiWorker?.stop();
      await this.stopWorkers();
      await Promise.allSettled([pool.end(), redis.quit(), connection.close()]);
    },
  };
}

/**
 * The real system in one process, isolated per test file: a fresh Redis key prefix, fresh task
 * queues, its own tenant. API, orchestration worker, GPU worker and reference model service are
 * real; Temporal, PostgreSQL and Redis are the real servers from global setup.
 */
export async function startStack(opts: StackOptions = {}) {
  const suffix = randomBytes(4).toString('hex');
  const cfg: Env = loadConfig({
    APP_ENV: 'development',
    DATABASE_URL: process.env.TEST_DATABASE_URL,
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_KEY_PREFIX: `test-${suffix}`,
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
    ORCHESTRATION_TASK_QUEUE: `orch-${suffix}`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    API_KEY_CACHE_TTL_S: '0',
    // Every test client is 127.0.0.1: suites that send wrong keys on purpose (hostile-input fuzzes
    // hundreds) must not be rate-limited by one another; hostile-auth sets its own limits.
    AUTH_FAILURE_BURST: '1000000',
    // The workers run as production builds them, from this config: the bundle global setup wrote,
    // and a one-second drain (a test that stops a GPU worker mid-call waits no longer).
    WORKFLOW_BUNDLE_PATH: process.env.TEST_WORKFLOW_BUNDLE,
    GPU_DRAIN_GRACE_S: '1',
    // Off unless a test turns it on: the suites that stop "the workers" expect no workflow task to
    // run meanwhile (test/integration/eager-start.test.ts runs the API's worker).
    API_EAGER_START: 'false',
    ...opts.env,
  });
  const logger = createLogger({ component: 'test', level: cfg.LOG_LEVEL });
  const model = createModelService({
    slots: opts.modelService?.slots ?? 8,
    prefillMsPerToken: opts.modelService?.prefillMsPerToken ?? 0,
    decodeMsPerToken: opts.modelService?.decodeMsPerToken ?? 1,
    models: ['ref-small'],
    adminToken: TEST_MODEL_ADMIN_TOKEN,
    logger,
  });
  const modelHttp = await listen(model.app);
  const gpuQueue = `gpu-${suffix}`;
  const registrySpec = {
    name: 'ref-small',
    protocol: 'openai',
    base_url: modelHttp.url,
    gpu_task_queue: gpuQueue,
    context_length: opts.model?.context_length ?? 4096,
    max_attempts: opts.model?.max_attempts ?? 4,
    request_timeout_ms: opts.model?.request_timeout_ms ?? 10_000,
    ...(opts.model?.reserve_slice_tokens !== undefined
      ? { reserve_slice_tokens: opts.model.reserve_slice_tokens }
      : {}),
  };
  const registry = new ModelRegistry([
    modelSpecSchema.parse(registrySpec),
    ...(opts.extraModels?.(gpuQueue) ?? []),
  ]);
  const shared: Shared = {
    cfg,
    registry,
    logger,
  };
  const node = await startNode(shared, opts.gpu !== false);
  const { pool, tenants } = node;

  const tenantId = `t-${suffix}`;
  const apiKey = `sk-test-${suffix}-${randomBytes(8).toString('hex')}`;
  await tenants.ensure({ id: tenantId, name: 'test tenant', tier: 'standard' });
  await tenants.addApiKey(tenantId, apiKey);

  const callAt = async (
    base: string,
    method: string,
    path: string,
    body?: unknown,
    key: string | null = apiKey,
  ) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
  const call = (method: string, path: string, body?: unknown, key: string | null = apiKey) =>
    callAt(node.apiUrl, method, path, body, key);
  /** POST /v1/inference for ref-small as `key`'s tenant; expects 202 and returns the request id. */
  const submit = async (prompt: string, maxTokens: number, key: string = apiKey): Promise<string> => {
    const res = await call(
      'POST',
      '/v1/inference',
      { model: 'ref-small', prompt, max_tokens: maxTokens },
      key,
    );
    expect(res.status).toBe(202);
    return res.body.id as string;
  };

  return {
    cfg,
    pool,
    redis: node.redis,
    quota: node.quota,
    tenants,
    client: node.client,
    tenantId,
    apiKey,
    apiUrl: node.apiUrl,
    modelUrl: modelHttp.url,
    gpuQueue,
    registrySpec,
    model,
    metrics: node.metrics,
    /** The node's sealer of prompts and outputs at rest (PAYLOAD_KEYS in `env`). */
    atRest: node.atRest,
    node,
    call,
    callAt,
    submit,
    /** Overrides the tenant's limits through the admin API. */
    async setLimits(limits: LimitsOverride) {
      const res = await call('PUT', `/admin/tenants/${tenantId}/limits`, limits, cfg.ADMIN_TOKEN);
      if (res.status !== 200) throw new Error(`setLimits: ${res.status} ${JSON.stringify(res.body)}`);
    },
    /** Polls GET /v1/inference/:id until the status is terminal. */
    async waitFinished(id: string, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const res = await call('GET', `/v1/inference/${id}`);
        if (['completed', 'failed', 'cancelled', 'rejected'].includes(res.body?.status)) return res.body;
        if (Date.now() > deadline)
          throw new Error(`request ${id} still ${res.body?.status} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async ledgerTotals() {
      const { rows } = await pool.query<{ n: string; tokens: string }>(
        'SELECT count(*) AS n, COALESCE(sum(total_tokens), 0) AS tokens FROM usage_ledger WHERE tenant_id = $1',
        [tenantId],
      );
      return { requests: Number(rows[0]!.n), tokens: Number(rows[0]!.tokens) };
    },
    async stop() {
      const keys = await node.redis.keys(`${cfg.REDIS_KEY_PREFIX}:*`);
      if (keys.length) await node.redis.del(...keys);
      await node.stop();
      await model.close();
      await closeServer(modelHttp.server);
    },
  };
}

export type Stack = Awaited<ReturnType<typeof startStack>>;

/** After everything settled: nothing reserved, and Redis usage equals the ledger in every window. */
export async function expectQuotaMatchesLedger(s: Stack): Promise<void> {
  const limits = (await s.call('GET', '/v1/quota')).body.limits;
  const ledger = await s.ledgerTotals();
  const { rows } = await s.pool.query<{ n: string; tokens: string }>(
    `SELECT count(*) AS n, COALESCE(sum(total_tokens), 0) AS tokens FROM usage_ledger
     WHERE tenant_id = $1 AND window_at >= date_trunc('minute', now())`,
    [s.tenantId],
  );
  for (const name of [
    'requests_per_minute',
    'requests_per_day',
    'tokens_per_day',
    'tokens_per_month',
    'max_in_flight',
  ]) {
    expect({ name, reserved: limits[name].reserved }).toEqual({ name, reserved: 0 });
  }
  expect(limits.tokens_per_day.used).toBe(ledger.tokens);
  expect(limits.tokens_per_month.used).toBe(ledger.tokens);
  expect(limits.requests_per_day.used).toBe(ledger.requests);
  // The minute window only holds this minute's requests (the test may have crossed a minute).
  expect(limits.requests_per_minute.used).toBe(Number(rows[0]!.n));
}

/** Scripts faults on the reference model service (see docs/reference-model-service.md). */
export async function scriptFaults(s: Stack, script: unknown[]): Promise<void> {
  await fetch(`${s.modelUrl}/_faults`, { method: 'DELETE', headers: FAULTS_AUTH });
  const res = await fetch(`${s.modelUrl}/_faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...FAULTS_AUTH },
    body: JSON.stringify({ script }),
  });
  if (!res.ok) throw new Error(`scriptFaults: ${res.status} ${await res.text()}`);
}

export async function modelStats(s: Stack): Promise<{
  requests_total: number;
  in_flight: number;
  aborted: number;
  completion_tokens_total: number;
  by_status: Record<string, number>;
}> {
  return (await (await fetch(`${s.modelUrl}/_stats`)).json()) as any;
}

/** Waits until the model service's in-flight count is `n` (or gives up after `timeoutMs`). */
export async function waitModelInFlight(s: Stack, n: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await modelStats(s)).in_flight !== n && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 25));
  expect((await modelStats(s)).in_flight).toBe(n);
}

/** A request that reached the ledger once and only once, with Redis in agreement. */
export async function expectChargedOnce(s: Stack, requestId: string): Promise<void> {
  const { rows } = await s.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM usage_ledger WHERE request_id = $1',
    [requestId],
  );
  expect(rows[0]!.n).toBe(1);
  await expectQuotaMatchesLedger(s);
}

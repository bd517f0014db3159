import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config';
import type { Env } from '../../src/config/schema';
import { freePorts } from '../../dev/stack/free-port';
import { postgresSpec, redisSpec, temporalSpec } from './deps';
import { answersOk } from './http';
import type { ChaosOptions } from './options';
import { Supervisor, type ServiceSpec } from './supervisor';

const ROOT = join(__dirname, '..', '..');

/** The processes that report readiness on /readyz (HTTP base URLs by name). */
export type ReadyTargets = Record<string, string>;

/** The whole private stack, every process under one supervisor. */
export interface ChaosStack {
  supervisor: Supervisor;
  cfg: Env;
  env: Record<string, string>;
  apiUrl: string;
  modelUrl: string;
  /** Bearer token of the model service's fault API (`/_faults`), generated per run. */
  modelAdminToken: string;
  /** API, orchestration worker and GPU workers: their base URL, probed on /readyz. */
  ready: ReadyTargets;
  apiKey: string;
  adminToken: string;
}

/** GPU workers in the stack: killing one mid-call leaves the other serving. */
export const GPU_WORKERS = ['gpu-worker-1', 'gpu-worker-2'];

/**
 * Starts private PostgreSQL, Redis and a Temporal dev server on a SQLite file in `dir`, migrates, then
 * the model service, the orchestration worker, two GPU workers and the API, as `npm start` does.
 */
export async function startChaosStack(
  o: ChaosOptions,
  dir: string,
  webhookCidr: string,
): Promise<ChaosStack> {
  const logs = join(dir, 'logs');
  mkdirSync(logs, { recursive: true });
  const supervisor = new Supervisor(logs, o.say);
  const [
    pgPort,
    redisPort,
    tPort,
    tUiPort,
    apiPort,
    orchPort,
    gpu1Port,
    gpu2Port,
    modelPort,
    apiMetricsPort,
  ] = await freePorts(10);
  const pg = postgresSpec(o.pgBin, join(dir, 'pg'), pgPort);
  const redis = redisSpec(redisPort);
  const temporal = temporalSpec(o.temporalCli, join(dir, 'temporal'), tPort, tUiPort);

  const modelUrl = `http://127.0.0.1:${modelPort}`;
  const modelAdminToken = randomBytes(24).toString('hex');
  const registry = join(dir, 'models.json');
  writeFileSync(
    registry,
    JSON.stringify({
      models: [
        {
          name: 'ref-small',
          protocol: 'openai',
          base_url: modelUrl,
          request_timeout_ms: o.modelTimeoutMs,
          max_attempts: 5,
        },
      ],
    }),
  );
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    APP_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATABASE_URL: pg.url,
    REDIS_URL: redis.url,
    TEMPORAL_ADDRESS: temporal.address,
    API_HOST: '127.0.0.1',
    API_PORT: String(apiPort),
    // Where the API serves /metrics apart from the public port (ignored by versions without it).
    API_METRICS_PORT: String(apiMetricsPort),
    ORCHESTRATION_METRICS_PORT: String(orchPort),
    MODEL_SERVICE_PORT: String(modelPort),
    MODEL_SERVICE_MODELS: 'ref-small',
    MODEL_SERVICE_DECODE_MS_PER_TOKEN: String(o.decodeMsPerToken),
    MODEL_SERVICE_HOST: '127.0.0.1',
    METRICS_HOST: '127.0.0.1',
    MODEL_SERVICE_ADMIN_TOKEN: modelAdminToken,
    MODEL_REGISTRY: registry,
    REQUEST_DEADLINE_S: String(o.requestDeadlineS),
    // The run checks Redis against the ledger itself: a worker correcting drift would hide it.
    QUOTA_AUDIT_INTERVAL_S: '86400',
    IDEMPOTENCY_PENDING_STALE_S: '2',
    WEBHOOK_ALLOWED_CIDRS: webhookCidr,
    WEBHOOK_RETRY_INITIAL_MS: '500',
    WEBHOOK_RETRY_MAX_INTERVAL_MS: '5000',
    WEBHOOK_TIMEOUT_MS: '5000',
  };
  // Variables of the caller's own stack must not leak into this one.
  for (const k of ['REDIS_KEY_PREFIX', 'REDIS_CLUSTER_NODES', 'GPU_TASK_QUEUES', 'GPU_METRICS_PORT'])
    delete env[k];
  const cfg = loadConfig(env);

  const node = (
    name: string,
    file: string,
    readyUrl: string,
    extra: Record<string, string> = {},
  ): ServiceSpec => ({
    name,
    command: process.execPath,
    args: ['--import', 'tsx', join(ROOT, file)],
    env: { ...env, ...extra },
    ready: () => answersOk(readyUrl),
  });

  try {
    await supervisor.add(pg);
    await Promise.all([supervisor.add(redis), supervisor.add(temporal)]);
    execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/db/migrate-cli.ts')], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await supervisor.add(node('model-service', 'dev/model-service/main.ts', `${modelUrl}/health`));
    const ready: ReadyTargets = {
      'orchestration-worker': `http://127.0.0.1:${orchPort}`,
      'gpu-worker-1': `http://127.0.0.1:${gpu1Port}`,
      'gpu-worker-2': `http://127.0.0.1:${gpu2Port}`,
      api: `http://127.0.0.1:${apiPort}`,
    };
    await Promise.all([
      supervisor.add(
        node(
          'orchestration-worker',
          'workers/orchestration-worker.ts',
          `${ready['orchestration-worker']}/readyz`,
        ),
      ),
      supervisor.add(
        node('gpu-worker-1', 'workers/gpu-worker.ts', `${ready['gpu-worker-1']}/readyz`, {
          GPU_METRICS_PORT: String(gpu1Port),
        }),
      ),
      supervisor.add(
        node('gpu-worker-2', 'workers/gpu-worker.ts', `${ready['gpu-worker-2']}/readyz`, {
          GPU_METRICS_PORT: String(gpu2Port),
        }),
      ),
    ]);
    await supervisor.add(node('api', 'src/api/main.ts', `${ready.api}/readyz`));
    return {
      supervisor,
      cfg,
      env,
      apiUrl: ready.api!,
      modelUrl,
      modelAdminToken,
      ready,
      apiKey: cfg.DEV_API_KEY!,
      adminToken: cfg.ADMIN_TOKEN,
    };
  } catch (err) {
    await supervisor.stopAll();
    throw err;
  }
}

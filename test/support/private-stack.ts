import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config';
import { freePorts } from '../../dev/stack/free-port';
import {
  startPrivatePostgres,
  startPrivateRedis,
  startPrivateTemporal,
  type PrivateService,
} from './private-services';
import { temporalBinaries } from './toolchain';
import { TEST_MODEL_ADMIN_TOKEN } from './model-server';

const ROOT = join(__dirname, '..', '..');

/** One process of the stack, run as `npm start` runs it, with its stdout kept for assertions. */
export interface StackChild {
  name: string;
  proc: ChildProcess;
  /** http://127.0.0.1:<port> of its HTTP server (API, model service, or a worker's metrics). */
  url: string;
  /** Every JSON log line it wrote so far. */
  logs: { msg?: string; dependency?: string; [k: string]: unknown }[];
  stderr: () => string;
}

/**
 * The whole system as separate processes (reference model service, orchestration worker, GPU worker,
 * API) on PRIVATE PostgreSQL, Redis and Temporal instances that the test may restart at will.
 */
export async function startPrivateStack(opts: { env?: Record<string, string> } = {}) {
  const { cli } = temporalBinaries();
  const [pg, redis, temporal] = await Promise.all([
    startPrivatePostgres(),
    startPrivateRedis(),
    startPrivateTemporal(cli),
  ]);
  const services: Record<'postgres' | 'redis' | 'temporal', PrivateService> = {
    postgres: pg,
    redis,
    temporal,
  };
  const [apiPort, orchPort, gpuPort, modelPort, apiMetricsPort] = await freePorts(5);
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    APP_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATABASE_URL: pg.url,
    REDIS_URL: redis.url,
    TEMPORAL_ADDRESS: temporal.url,
    API_HOST: '127.0.0.1',
    API_PORT: String(apiPort),
    API_METRICS_PORT: String(apiMetricsPort),
    ORCHESTRATION_METRICS_PORT: String(orchPort),
    GPU_METRICS_PORT: String(gpuPort),
    MODEL_SERVICE_PORT: String(modelPort),
    MODEL_SERVICE_MODELS: 'ref-small',
    MODEL_SERVICE_DECODE_MS_PER_TOKEN: '2',
    MODEL_SERVICE_ADMIN_TOKEN: TEST_MODEL_ADMIN_TOKEN,
    MODEL_SERVICE_HOST: '127.0.0.1',
    METRICS_HOST: '127.0.0.1',
    REFERENCE_MODEL_URL: `http://127.0.0.1:${modelPort}`,
    // The restart suites were written for an API without a workflow worker; a test turns it on here.
    API_EAGER_START: 'false',
    ...opts.env,
  };
  const cfg = loadConfig(env);
  execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/db/migrate-cli.ts')], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });

  const children: StackChild[] = [];
  const spawnChild = async (
    name: string,
    file: string,
    port: number,
    readyPath: string,
  ): Promise<StackChild> => {
    const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, file)], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const child: StackChild = { name, proc, url: `http://127.0.0.1:${port}`, logs: [], stderr: () => err };
    let err = '';
    let partial = '';
    proc.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    proc.stdout?.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        try {
          child.logs.push(JSON.parse(l));
        } catch {
          // not a log line
        }
      }
    });
    children.push(child);
    for (let i = 0; i < 900; i++) {
      if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}:\n${err}`);
      if (
        await fetch(`${child.url}${readyPath}`).then(
          (r) => r.ok,
          () => false,
        )
      )
        return child;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${name} did not become ready:\n${err}`);
  };

  try {
    await spawnChild('model-service', 'dev/model-service/main.ts', modelPort, '/health');
    await Promise.all([
      spawnChild('orchestration-worker', 'workers/orchestration-worker.ts', orchPort, '/readyz'),
      spawnChild('gpu-worker', 'workers/gpu-worker.ts', gpuPort, '/readyz'),
      spawnChild('api', 'src/api/main.ts', apiPort, '/readyz'),
    ]);
  } catch (err) {
    await stopAll();
    throw err;
  }

  async function stopAll(): Promise<void> {
    await Promise.all(
      children.map(async (c) => {
        if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
        const exited = new Promise((r) => c.proc.once('exit', r));
        c.proc.kill('SIGTERM');
        const timer = setTimeout(() => c.proc.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    await Promise.allSettled([pg.destroy(), redis.destroy(), temporal.destroy()]);
  }

  const byName = (name: string): StackChild => children.find((c) => c.name === name)!;
  return {
    services,
    children,
    api: byName('api'),
    /** The processes that report readiness: API and both workers. */
    ready: [byName('api'), byName('orchestration-worker'), byName('gpu-worker')],
    /** The environment every process got (ports included). */
    env,
    apiKey: cfg.DEV_API_KEY!,
    adminToken: cfg.ADMIN_TOKEN,
    stop: stopAll,
  };
}

export type PrivateStack = Awaited<ReturnType<typeof startPrivateStack>>;

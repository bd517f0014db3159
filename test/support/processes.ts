import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../../dev/stack/free-port';
import type { Stack } from './stack';

const ROOT = join(__dirname, '..', '..');

/** A real process of the system (API or worker), configured like the stack it joins. */
export interface SystemProcess {
  proc: ChildProcess;
  /** http://127.0.0.1:<port> of its HTTP server (API port, or the worker's metrics port). */
  url: string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Every process started here and still running. Killed after the test file whatever happened, so a
 * test that failed half-way (one of several processes did not start) leaves none behind holding
 * ports: an orphaned API once kept npm start's metrics port.
 */
const running = new Set<ChildProcess>();
afterAll(() => {
  for (const p of running) p.kill('SIGKILL');
});

/** Starts `file` (src/api/main.ts, workers/…) as a child process sharing the stack's Redis prefix and queues. */
export async function spawnSystemProcess(
  s: Stack,
  file: string,
  readyPath: string,
  extraEnv: Record<string, string> = {},
): Promise<SystemProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'registry-'));
  writeFileSync(join(dir, 'models.json'), JSON.stringify({ models: [s.registrySpec] }));
  const [apiPort, orchPort, gpuPort, apiMetricsPort] = await freePorts(4);
  const port = file.includes('api') ? apiPort : file.includes('gpu') ? gpuPort : orchPort;
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, file)], {
    env: {
      ...process.env,
      APP_ENV: s.cfg.APP_ENV,
      DATABASE_URL: s.cfg.DATABASE_URL,
      REDIS_URL: s.cfg.REDIS_URL,
      REDIS_KEY_PREFIX: s.cfg.REDIS_KEY_PREFIX,
      TEMPORAL_ADDRESS: s.cfg.TEMPORAL_ADDRESS,
      ORCHESTRATION_TASK_QUEUE: s.cfg.ORCHESTRATION_TASK_QUEUE,
      MODEL_REGISTRY: join(dir, 'models.json'),
      API_HOST: '127.0.0.1',
      API_PORT: String(apiPort),
      API_METRICS_PORT: String(apiMetricsPort),
      ORCHESTRATION_METRICS_PORT: String(orchPort),
      GPU_METRICS_PORT: String(gpuPort),
      API_KEY_CACHE_TTL_S: '0',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      // As the stack's in-process API (off unless the test's stack turned it on), and with the bundle
      // global setup wrote, so an API with its own workflow worker does not bundle at start.
      API_EAGER_START: String(s.cfg.API_EAGER_START),
      ...(process.env.TEST_WORKFLOW_BUNDLE ? { WORKFLOW_BUNDLE_PATH: process.env.TEST_WORKFLOW_BUNDLE } : {}),
      ...extraEnv,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  // Keep the tail of stderr to explain a failed start; worker logs are too chatty to print.
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if (proc.exitCode !== null) throw new Error(`${file} exited with ${proc.exitCode}:\n${stderr}`);
    if (
      await fetch(`${url}${readyPath}`).then(
        (r) => r.ok,
        () => false,
      )
    ) {
      return {
        proc,
        url,
        kill: async (signal: NodeJS.Signals = 'SIGTERM') => {
          // A process ended by a signal has a signalCode and no exitCode: it will not exit again.
          if (proc.exitCode !== null || proc.signalCode !== null) return;
          const exited = new Promise((r) => proc.once('exit', r));
          proc.kill(signal);
          await exited;
        },
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  throw new Error(`${file} did not become ready:\n${stderr}`);
}

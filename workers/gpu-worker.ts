import { loadConfig } from '../src/config/load-config';
import { createLogger } from '../src/observability/logger';
import { onShutdown } from '../src/runtime/resources';
import { installWorkerRuntime } from '../src/runtime/worker-supervisor';
import { buildGpuWorker } from './build-gpu-worker';

/**
 * Calls model services. On SIGTERM it stops polling, lets in-flight calls finish for
 * GPU_DRAIN_GRACE_S, then cancels them so Temporal retries them elsewhere (nothing is charged for a
 * call that did not complete). Survives PostgreSQL and Temporal restarting.
 */
async function main(): Promise<void> {
  const cfg = loadConfig();
  installWorkerRuntime({ sdkMetricsPort: cfg.GPU_SDK_METRICS_PORT, metricsHost: cfg.METRICS_HOST });
  const logger = createLogger({ component: 'gpu-worker', level: cfg.LOG_LEVEL });
  // Model auth secrets are named by the registry, so they are looked up by name in the environment.
  const worker = buildGpuWorker(cfg, { logger, secretsEnv: process.env });
  await worker.start();
  onShutdown(logger, () => worker.stop());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

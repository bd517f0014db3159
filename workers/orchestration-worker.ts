import { loadConfig } from '../src/config/load-config';
import { createLogger } from '../src/observability/logger';
import { onShutdown } from '../src/runtime/resources';
import { installWorkerRuntime } from '../src/runtime/worker-supervisor';
import { buildOrchestrationWorker } from './build-orchestration-worker';

/**
 * Runs workflows and the PostgreSQL/Redis activities, plus the quota sweeper. Survives PostgreSQL,
 * Redis and Temporal restarting (not ready on /readyz meanwhile); stops gracefully on SIGTERM.
 */
async function main(): Promise<void> {
  const cfg = loadConfig();
  installWorkerRuntime({ sdkMetricsPort: cfg.ORCHESTRATION_SDK_METRICS_PORT, metricsHost: cfg.METRICS_HOST });
  const logger = createLogger({ component: 'orchestration-worker', level: cfg.LOG_LEVEL });
  const worker = await buildOrchestrationWorker(cfg, { logger });
  await worker.start();
  onShutdown(logger, () => worker.stop());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

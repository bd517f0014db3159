import type { Server } from 'node:http';
import { ConfigError } from '../../src/config/parse-environment';
import { createLogger } from '../../src/observability/logger';
import { loadDevConfig } from '../config/schema';
import { createModelService, type ModelService } from './create-model-service';

/** How long requests in flight may finish after SIGTERM before they are aborted. */
const SHUTDOWN_GRACE_MS = 5000;

/** Stops listening, drains (then aborts) requests in flight, closes every connection. */
async function shutdown(server: Server, svc: ModelService): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await svc.close({ graceMs: SHUTDOWN_GRACE_MS });
  // Let the answers of aborted requests (503) be written before their connections go.
  await new Promise((resolve) => setImmediate(resolve));
  server.closeAllConnections();
  await closed;
}

/** Runs the reference model service on MODEL_SERVICE_PORT until SIGINT or SIGTERM. */
function main(): void {
  const cfg = loadDevConfig();
  const logger = createLogger({ component: 'model-service', level: cfg.LOG_LEVEL });
  if (cfg.FAULT_API_ENABLED && !cfg.MODEL_SERVICE_ADMIN_TOKEN) {
    throw new ConfigError([
      {
        variable: 'MODEL_SERVICE_ADMIN_TOKEN',
        message:
          'is required while FAULT_API_ENABLED=true: the fault API makes every request fail (openssl rand -hex 32), or set FAULT_API_ENABLED=false',
      },
    ]);
  }
  const models = cfg.MODEL_SERVICE_MODELS.split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  const svc = createModelService({
    slots: cfg.MODEL_SERVICE_SLOTS,
    maxQueue: cfg.MODEL_SERVICE_MAX_QUEUE,
    prefillMsPerToken: cfg.MODEL_SERVICE_PREFILL_MS_PER_TOKEN,
    decodeMsPerToken: cfg.MODEL_SERVICE_DECODE_MS_PER_TOKEN,
    models,
    faultApi: cfg.FAULT_API_ENABLED,
    adminToken: cfg.MODEL_SERVICE_ADMIN_TOKEN,
    faults: {
      rate429: cfg.FAULT_RATE_429,
      rate500: cfg.FAULT_RATE_500,
      rate503: cfg.FAULT_RATE_503,
      rate400: cfg.FAULT_RATE_400,
      retryAfterS: cfg.FAULT_RETRY_AFTER_S,
      spikeRate: cfg.FAULT_SPIKE_RATE,
      spikeMs: cfg.FAULT_SPIKE_MS,
      hangRate: cfg.FAULT_HANG_RATE,
      dropRate: cfg.FAULT_DROP_RATE,
    },
    logger,
  });
  const server = svc.app.listen(cfg.MODEL_SERVICE_PORT, cfg.MODEL_SERVICE_HOST, () => {
    logger.info(
      {
        host: cfg.MODEL_SERVICE_HOST,
        port: cfg.MODEL_SERVICE_PORT,
        slots: cfg.MODEL_SERVICE_SLOTS,
        models,
        faultApi: cfg.FAULT_API_ENABLED,
      },
      'model service listening',
    );
  });
  server.on('error', (err) => {
    logger.fatal({ err }, 'model service cannot listen');
    process.exit(1);
  });
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, in_flight: svc.stats.in_flight }, 'model service stopping');
    shutdown(server, svc).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'model service shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

try {
  main();
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}

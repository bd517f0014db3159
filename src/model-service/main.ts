import { loadConfig } from '../config/load-config';
import { createLogger } from '../observability/logger';
import { createModelService } from './create-model-service';

/** Runs the reference model service on MODEL_SERVICE_PORT. */
function main(): void {
  const cfg = loadConfig();
  const logger = createLogger({ component: 'model-service', level: cfg.LOG_LEVEL });
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
  const server = svc.app.listen(cfg.MODEL_SERVICE_PORT, '0.0.0.0', () =>
    logger.info(
      { port: cfg.MODEL_SERVICE_PORT, slots: cfg.MODEL_SERVICE_SLOTS, models },
      'model service listening',
    ),
  );
  const stop = (): void => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main();

import { loadConfig } from '../config/load-config';
import { loadRegistry } from '../models/model-registry';
import { createLogger } from '../observability/logger';
import { createMetrics } from '../observability/metrics';
import { createPgPool, createRedis, createTemporalClient, onShutdown } from '../runtime/resources';
import { buildApi } from './build-api';

async function main(): Promise<void> {
  const cfg = loadConfig();
  const logger = createLogger({ component: 'api', level: cfg.LOG_LEVEL });
  const metrics = createMetrics('api');
  const pool = createPgPool(cfg, 'api');
  const redis = createRedis(cfg, 'api');
  const { client, connection } = await createTemporalClient(cfg);
  const registry = loadRegistry(cfg);
  const app = buildApi(cfg, { pool, redis, client, registry, metrics, logger });
  const server = app.listen(cfg.API_PORT, cfg.API_HOST, () =>
    logger.info({ port: cfg.API_PORT, models: registry.names() }, 'api listening'),
  );
  server.keepAliveTimeout = 65_000;
  onShutdown(logger, async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.allSettled([pool.end(), redis.quit(), connection.close()]);
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

import { readinessChecks } from './routes/health-routes';
import { loadConfig } from '../config/load-config';
import { SubmitService } from '../inference/submit-service';
import { TemporalWorkflowGateway } from '../inference/workflow-gateway';
import { loadRegistry } from '../models/model-registry';
import { createLogger } from '../observability/logger';
import { createMetrics } from '../observability/metrics';
import { RequestsRepo } from '../requests/requests-repo';
import {
  createPgPool,
  createQuotaStore,
  createRedis,
  createTemporalClient,
  onShutdown,
} from '../runtime/resources';
import { TenantsRepo } from '../tenants/tenants-repo';
import { createApp } from './create-app';

async function main(): Promise<void> {
  const cfg = loadConfig();
  const logger = createLogger({ component: 'api', level: cfg.LOG_LEVEL });
  const metrics = createMetrics('api');
  const pool = createPgPool(cfg, 'api');
  const redis = createRedis(cfg, 'api');
  const { client, connection } = await createTemporalClient(cfg);
  const registry = loadRegistry(cfg);
  const quota = createQuotaStore(cfg, { redis, pool, metrics, logger });
  const workflows = new TemporalWorkflowGateway(client, cfg.ORCHESTRATION_TASK_QUEUE);
  const app = createApp({
    submit: new SubmitService({ registry, quota, workflows, metrics, logger }),
    requests: new RequestsRepo(pool),
    tenants: new TenantsRepo(pool),
    quota,
    registry,
    workflows,
    metrics,
    logger,
    adminToken: cfg.ADMIN_TOKEN,
    apiKeyCacheTtlS: cfg.API_KEY_CACHE_TTL_S,
    maxBodyBytes: cfg.API_MAX_BODY_BYTES,
    checks: readinessChecks({ workflows, pool, redis }),
  });
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

import { Redis } from 'ioredis';
import { buildApi } from '../../src/api/build-api';
import type { Env } from '../../src/config/schema';
import { createPool } from '../../src/db/pool';
import { ModelRegistry } from '../../src/models/model-registry';
import { modelSpecSchema } from '../../src/models/model-spec';
import { createLogger, type Logger } from '../../src/observability/logger';
import { createMetrics, type Metrics } from '../../src/observability/metrics';
import { closeServer, listen, type Stack } from './stack';

/** Options for {@link startApiReplica}. */
export interface ApiReplicaOptions {
  /** Its metrics' component name, and its logger's unless `logger` is given. */
  name: string;
  /** Configuration that differs from the stack's. @default none */
  cfg?: Partial<Env>;
  /** Where its log lines go. @default a silent logger */
  logger?: Logger;
}

/** A second API replica in-process: see {@link startApiReplica}. */
export interface ApiReplica {
  url: string;
  metrics: Metrics;
  /** Its own PostgreSQL pool (tests may count its queries). */
  pool: ReturnType<typeof createPool>;
  stop(): Promise<void>;
}

/**
 * Another API process in all but name, beside the stack's own: its own PostgreSQL pool, Redis
 * connection and metrics, on the stack's databases and Temporal client.
 */
export async function startApiReplica(s: Stack, o: ApiReplicaOptions): Promise<ApiReplica> {
  const cfg: Env = { ...s.cfg, ...o.cfg };
  const pool = createPool({ connectionString: cfg.DATABASE_URL, max: 4 });
  const redis = new Redis(cfg.REDIS_URL);
  const metrics = createMetrics(o.name);
  const built = buildApi(cfg, {
    pool,
    redis,
    client: s.client,
    registry: new ModelRegistry([modelSpecSchema.parse(s.registrySpec)]),
    metrics,
    logger: o.logger ?? createLogger({ component: o.name, level: 'silent' }),
  });
  const { server, url } = await listen(built.app);
  return {
    url,
    metrics,
    pool,
    async stop() {
      await closeServer(server);
      await built.stop();
      await Promise.allSettled([pool.end(), redis.quit()]);
    },
  };
}

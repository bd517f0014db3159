import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Env } from '../config/schema';
import type { DependencyReporter } from '../observability/dependency-monitor';

/**
 * The Redis the quota code runs on: one server or a Redis Cluster. Every key of a tenant carries
 * the tenant's hash tag, so each script and each `multi()` touches one slot and works on both.
 */
export type QuotaRedis = Redis | Cluster;

/** Longest pause between two reconnection attempts. */
const MAX_RETRY_DELAY_MS = 2000;

/**
 * The Redis client of a process: a Redis Cluster client when REDIS_CLUSTER_NODES is set (user,
 * password and TLS from REDIS_URL), else one server at REDIS_URL. Either way it reconnects forever
 * with capped backoff, reports each outage to `dependencies`, and, once it has been ready, fails
 * commands at once while disconnected instead of queueing them, so callers answer 503 quickly.
 */
export function createQuotaRedis(
  cfg: Env,
  name: string,
  deps: { dependencies?: DependencyReporter } = {},
): QuotaRedis {
  const backoff = (attempt: number): number => Math.min(50 * 2 ** attempt, MAX_RETRY_DELAY_MS);
  const common: RedisOptions = { connectionName: name, maxRetriesPerRequest: 1, connectTimeout: 2000 };
  let redis: QuotaRedis;
  if (cfg.REDIS_CLUSTER_NODES) {
    const url = new URL(cfg.REDIS_URL);
    redis = new Cluster(cfg.REDIS_CLUSTER_NODES, {
      clusterRetryStrategy: backoff,
      // Queue commands sent before the first connection (start-up), never during an outage: see 'ready'.
      enableOfflineQueue: true,
      redisOptions: {
        ...common,
        username: decodeURIComponent(url.username) || undefined,
        password: decodeURIComponent(url.password) || undefined,
        tls: url.protocol === 'rediss:' ? {} : undefined,
      },
    });
  } else {
    redis = new Redis(cfg.REDIS_URL, { ...common, enableOfflineQueue: true, retryStrategy: backoff });
  }
  redis.on('ready', () => {
    redis.options.enableOfflineQueue = false;
    deps.dependencies?.report('redis', true);
  });
  // Without a listener an 'error' event would crash the process; the monitor logs transitions only.
  redis.on('error', (err: Error) => deps.dependencies?.report('redis', false, err));
  return redis;
}

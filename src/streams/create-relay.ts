import type { Cluster, Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { AtRestSealer } from '../codec/at-rest-sealer';
import type { Env } from '../config/schema';
import { RequestFollower } from './request-follower';
import { streamMetrics } from './stream-metrics';
import { TokenRelay } from './token-relay';

/**
 * The token relay of a process, on its Redis, with the configured retention and write interval;
 * `sealer` (the process's, createAtRestSealer) seals its text with the payload keys.
 */
export function createTokenRelay(cfg: Env, redis: Redis | Cluster, sealer: AtRestSealer): TokenRelay {
  return new TokenRelay({
    redis,
    sealer,
    prefix: cfg.REDIS_KEY_PREFIX,
    retentionS: cfg.STREAM_RETENTION_S,
    writeIntervalMs: cfg.STREAM_WRITE_INTERVAL_MS,
  });
}

/** What the API uses to follow requests: the relay and a follower over it. */
export function createFollower(relay: TokenRelay, registry: Registry): RequestFollower {
  return new RequestFollower({ relay, idleChecks: streamMetrics(registry).idleChecks });
}

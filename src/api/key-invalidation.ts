import { Cluster } from 'ioredis';
import { z } from 'zod';
import type { Logger } from '../observability/logger';
import type { QuotaRedis } from '../quota/redis-client';
import type { ApiKeyCache } from './key-cache';
import type { KeyCacheMetrics } from './key-cache-metrics';
import type { LiveConnections } from './live-connections';

/** Channel every API replica of a deployment listens on (REDIS_KEY_PREFIX keeps deployments apart). */
export function invalidationChannel(keyPrefix: string): string {
  return `${keyPrefix}:auth:invalidate`;
}

/**
 * What to drop: one key of a tenant, or (no key) every key of the tenant. Never a secret or digest.
 * `effect` (a revoke, a disable) also ends the open streams and waits of that key or tenant, or
 * (`expire`, a rotation with a grace period) ends them at `until`; other changes (limits, tier,
 * enable) only drop cached lookups.
 */
const messageSchema = z.object({
  tenant: z.string().min(1),
  key: z.string().min(1).optional(),
  effect: z.enum(['revoke', 'disable', 'expire']).optional(),
  /** With `expire` (a key rotated with a grace period): when it stops working, ms since the epoch. */
  until: z.number().int().nonnegative().optional(),
});
export type Invalidation = z.infer<typeof messageSchema>;

/** Tells every API replica to drop cached lookups. */
export interface KeyInvalidator {
  /** Resolves whether the message went out; a failure is logged and counted, never thrown. */
  publish(msg: Invalidation): Promise<boolean>;
}

/** What a replica does with an invalidation: drop cached lookups, end the streams it names. */
export interface InvalidationTargets {
  cache: ApiKeyCache;
  /** Open streams and waits; ended by a message with an `effect`. @default none */
  live?: LiveConnections;
  metrics: KeyCacheMetrics;
  logger: Logger;
}

/** Applies one invalidation to this replica. */
export function applyInvalidation(msg: Invalidation, t: InvalidationTargets): void {
  const dropped = t.cache.drop(msg.tenant, msg.key);
  t.metrics.invalidations.inc({ scope: msg.key ? 'key' : 'tenant' });
  t.metrics.entriesDropped.inc(dropped);
  t.logger.debug({ tenant: msg.tenant, key: msg.key, dropped }, 'key cache invalidated');
  if (!msg.effect || !t.live) return;
  if (msg.effect === 'expire') {
    if (msg.key && msg.until !== undefined) t.live.expireAt(msg.tenant, msg.key, msg.until);
  } else t.live.end(msg.tenant, msg.key, msg.effect === 'disable' ? 'tenant_disabled' : 'key_revoked');
}

/**
 * Publishes invalidations on the deployment's channel (this replica receives its own). When the
 * message cannot go out, `local` (this replica's targets) is applied at once: the others refuse the
 * key at their TTL.
 */
export function keyInvalidator(deps: {
  redis: QuotaRedis;
  channel: string;
  metrics: KeyCacheMetrics;
  logger: Logger;
  local?: InvalidationTargets;
}): KeyInvalidator {
  return {
    async publish(msg) {
      try {
        await deps.redis.publish(deps.channel, JSON.stringify(msg));
        return true;
      } catch (err) {
        if (deps.local) applyInvalidation(msg, deps.local);
        deps.metrics.publishFailures.inc();
        deps.logger.warn(
          { err, tenant: msg.tenant, key: msg.key },
          'key invalidation not published; replicas drop the entry at API_KEY_CACHE_TTL_S',
        );
        return false;
      }
    },
  };
}

/**
 * Subscribes a dedicated connection (a subscribed connection can run nothing else) to the channel
 * and drops the cache entries each message names. After a reconnection the whole cache is dropped:
 * messages sent meanwhile are lost. The connection closes with `redis` (or by the returned stop).
 */
export function subscribeKeyInvalidations(
  deps: InvalidationTargets & { redis: QuotaRedis; channel: string },
): { ready: Promise<void>; stop: () => void } {
  const { cache, metrics, logger } = deps;
  // The process's client refuses commands while disconnected; this one must queue its SUBSCRIBE.
  const sub =
    deps.redis instanceof Cluster
      ? deps.redis.duplicate(undefined, { enableOfflineQueue: true })
      : deps.redis.duplicate({
          enableOfflineQueue: true,
          // Waits out an outage instead of failing the SUBSCRIBE; ioredis resubscribes on reconnect.
          maxRetriesPerRequest: null,
          connectionName: 'api-key-invalidation',
        });
  let readyOnce = false;
  sub.on('error', (err: Error) => logger.debug({ err }, 'key invalidation channel error'));
  sub.on('ready', () => {
    if (!readyOnce) return void (readyOnce = true);
    const dropped = cache.clear();
    metrics.invalidations.inc({ scope: 'all' });
    metrics.entriesDropped.inc(dropped);
    logger.info({ dropped }, 'key invalidation channel back: key cache dropped');
  });
  sub.on('message', (channel: string, raw: string) => {
    if (channel !== deps.channel) return;
    let msg: Invalidation;
    try {
      msg = messageSchema.parse(JSON.parse(raw));
    } catch {
      return void logger.warn({ channel }, 'malformed key invalidation ignored');
    }
    applyInvalidation(msg, deps);
  });
  const stop = (): void => sub.disconnect();
  deps.redis.once('end', stop);
  const ready = sub.subscribe(deps.channel).then(
    () => undefined,
    (err: unknown) => logger.warn({ err }, 'key invalidation channel not subscribed; TTL only'),
  );
  return { ready, stop };
}

import type { Cluster, Redis } from 'ioredis';

/**
 * The Redis the quota code runs on: one server or a Redis Cluster. Every key of a tenant carries
 * the tenant's hash tag, so each script and each `multi()` touches one slot and works on both.
 */
export type QuotaRedis = Redis | Cluster;

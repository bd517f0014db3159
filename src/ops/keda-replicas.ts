/** What a ScaledObject's `temporal` trigger and replica bounds say (the inputs of KEDA's decision). */
export interface ScalingTarget {
  /** Backlog per replica: `targetQueueSize` (KEDA's default 5). */
  targetQueueSize: number;
  /** Backlog at or under which the scaler is inactive: `activationTargetQueueSize` (default 0). */
  activationTargetQueueSize: number;
  /** `minReplicaCount` (KEDA's default 0). */
  minReplicaCount: number;
  /** `maxReplicaCount` (KEDA's default 100). */
  maxReplicaCount: number;
}

/**
 * Replicas KEDA asks for at a given backlog, once stable (HPA's tolerance, stabilization windows and
 * KEDA's cooldownPeriod decide only *when* it gets there):
 * - inactive (backlog <= activationTargetQueueSize) with minReplicaCount 0: 0 replicas;
 * - otherwise ceil(backlog / targetQueueSize), the HPA's AverageValue rule over the whole backlog,
 *   clamped to [max(minReplicaCount, 1), maxReplicaCount] (KEDA gives the HPA a minimum of 1 when it
 *   owns scaling to and from zero).
 */
export function kedaDesiredReplicas(backlog: number, t: ScalingTarget): number {
  if (!(t.targetQueueSize > 0)) throw new RangeError('targetQueueSize must be > 0');
  if (t.minReplicaCount > t.maxReplicaCount) throw new RangeError('minReplicaCount > maxReplicaCount');
  if (backlog <= t.activationTargetQueueSize && t.minReplicaCount === 0) return 0;
  const wanted = Math.ceil(Math.max(backlog, 0) / t.targetQueueSize);
  return Math.min(t.maxReplicaCount, Math.max(t.minReplicaCount, 1, wanted));
}

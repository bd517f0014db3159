import fc from 'fast-check';
import { type ScalingTarget, kedaDesiredReplicas } from '../../../src/ops/keda-replicas';

/** The generated GPU ScaledObject of llama-3.1-8b: 16 slots a replica, 0..8. */
const GPU: ScalingTarget = {
  targetQueueSize: 16,
  activationTargetQueueSize: 0,
  minReplicaCount: 0,
  maxReplicaCount: 8,
};

test.each([
  [0, 0],
  [1, 1],
  [16, 1],
  [17, 2],
  [40, 3],
  [128, 8],
  [1000, 8],
])('backlog %i → %i replicas (target 16, 0..8)', (backlog, replicas) => {
  expect(kedaDesiredReplicas(backlog, GPU)).toBe(replicas);
});

test('activation: at or under the activation threshold with min 0 → 0; above → at least 1', () => {
  const t = { ...GPU, activationTargetQueueSize: 5 };
  expect(kedaDesiredReplicas(5, t)).toBe(0);
  expect(kedaDesiredReplicas(6, t)).toBe(1);
});

test('a minimum above zero holds even with nothing waiting (prod: one warm GPU pod)', () => {
  expect(kedaDesiredReplicas(0, { ...GPU, minReplicaCount: 1 })).toBe(1);
  expect(kedaDesiredReplicas(0, { ...GPU, minReplicaCount: 2, activationTargetQueueSize: 10 })).toBe(2);
});

test('bad targets are refused', () => {
  expect(() => kedaDesiredReplicas(1, { ...GPU, targetQueueSize: 0 })).toThrow(RangeError);
  expect(() => kedaDesiredReplicas(1, { ...GPU, minReplicaCount: 9 })).toThrow(RangeError);
});

test('always within bounds, never fewer replicas than the backlog needs unless at max', () => {
  fc.assert(
    fc.property(
      fc.nat(10_000),
      fc.integer({ min: 1, max: 64 }),
      fc.nat(20),
      fc.nat(4),
      fc.integer({ min: 4, max: 32 }),
      (backlog, target, activation, min, max) => {
        const t = {
          targetQueueSize: target,
          activationTargetQueueSize: activation,
          minReplicaCount: min,
          maxReplicaCount: max,
        };
        const n = kedaDesiredReplicas(backlog, t);
        expect(n).toBeGreaterThanOrEqual(min);
        expect(n).toBeLessThanOrEqual(max);
        if (n < max && n > 0) expect(n * target).toBeGreaterThanOrEqual(backlog);
      },
    ),
  );
});

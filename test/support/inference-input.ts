import { randomUUID } from 'node:crypto';
import type { InferenceInput } from '../../src/shared/types';

/** A workflow input for tests that run inferenceWorkflow with stub activities; `overrides` win. */
export function inferenceInput(
  gpuTaskQueue: string,
  overrides: Partial<InferenceInput> = {},
): InferenceInput {
  return {
    requestId: `inf_${randomUUID().replace(/-/g, '')}`,
    tenantId: 'acme',
    model: 'ref-small',
    prompt: 'hi',
    maxTokens: 16,
    promptTokens: 5,
    estimatedTokens: 21,
    acceptedAt: '2026-11-22T10:00:00.000Z',
    gpuTaskQueue,
    modelCall: { timeoutMs: 10_000, maxAttempts: 3 },
    priority: { priorityKey: 3, fairnessKey: 'acme' },
    ...overrides,
  };
}

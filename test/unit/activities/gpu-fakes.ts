import { once } from 'node:events';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Info } from '@temporalio/activity';
import { DefaultLogger } from '@temporalio/worker';
import { createGpuActivities, HEARTBEAT_EVERY_MS, type GpuDeps } from '../../../activities/gpu-activities';
import type { GenerateOptions, GenerateRequest, ModelAdapter } from '../../../src/models/model-adapter';
import type { TokenRelay } from '../../../src/streams/token-relay';
import { createLogger } from '../../../src/observability/logger';
import { createMetrics, type Metrics } from '../../../src/observability/metrics';
import type { InferenceInput, ModelCallResult } from '../../../src/shared/types';

/** What one fake model call does with its options: stream, wait, fail or return. */
export type Script = (opts: GenerateOptions, req: GenerateRequest) => Promise<ModelCallResult>;

/** A result of `text`, two prompt tokens and one token per word. */
export function resultOf(text: string): ModelCallResult {
  const n = words(text);
  return {
    text,
    usage: { prompt_tokens: 2, completion_tokens: n, total_tokens: 2 + n },
    finishReason: 'stop',
    usageReported: true,
  };
}

/** The fake tokenizer: one token per word. */
export const words = (text: string): number => text.split(/\s+/).filter(Boolean).length;

/** Streams `pieces` through the callbacks as a real adapter does (text, then the count so far). */
export function stream(opts: GenerateOptions, pieces: string[]): void {
  let text = '';
  for (const p of pieces) {
    text += p;
    opts.onText?.(p);
    opts.onProgress?.(words(text));
  }
}

/** Waits for the next heartbeat, or four heartbeat periods if none comes (the test then fails on it). */
export async function nextHeartbeat(env: MockActivityEnvironment): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    once(env, 'heartbeat'),
    new Promise((r) => (timer = setTimeout(r, HEARTBEAT_EVERY_MS * 4))),
  ]);
  clearTimeout(timer);
}

/** Rejects with the signal's reason when it aborts, as the HTTP adapters rethrow the caller's abort. */
export function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = (): void => reject(signal.reason as Error);
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

/**
 * createGpuActivities with a scripted adapter, a recording requests repo and real metrics, run in a
 * MockActivityEnvironment. `calls` journals the repo writes in order; `markAttempt` (if given)
 * decides each mark's fate by its try number.
 */
export function gpuSetup(
  script: Script,
  o: {
    info?: Partial<Info>;
    markAttempt?: (tryNo: number) => Promise<void>;
    /** Whether the adapter can continue an answer. @default true */
    canContinue?: boolean;
    relay?: TokenRelay;
    /** Reservation in slices (see call-model-slices.test.ts). @default none */
    slices?: GpuDeps['slices'];
  } = {},
) {
  const calls: unknown[][] = [];
  const heartbeats: unknown[] = [];
  let marks = 0;
  const requests: GpuDeps['requests'] = {
    markAttempt: async (id, attempt) => {
      marks += 1;
      calls.push(['markAttempt', id, attempt]);
      await o.markAttempt?.(marks);
      calls.push(['marked', id, attempt]);
    },
    recordPartial: async (...args) => void calls.push(['recordPartial', ...args]),
    recordAttemptError: async (...args) => void calls.push(['recordAttemptError', ...args]),
  };
  const adapter: ModelAdapter = {
    generate: (req, opts) => script(opts, req),
    canContinue: () => o.canContinue ?? true,
    countTokens: async (t) => words(t),
  };
  const metrics: Metrics = createMetrics('test');
  const activities = createGpuActivities({
    adapters: new Map([['m', adapter]]),
    requests,
    metrics,
    logger: createLogger({ component: 'test', level: 'silent' }),
    relay: o.relay,
    slices: o.slices,
  });
  // The SDK logs every failed activity at WARN; the tests assert the failures themselves.
  const env = new MockActivityEnvironment({ attempt: 1, ...o.info }, { logger: new DefaultLogger('ERROR') });
  env.on('heartbeat', (d: unknown) => heartbeats.push(d));
  /** Model-call outcomes counted so far, as `outcome: count`. */
  const outcomes = async (): Promise<Record<string, number>> =>
    Object.fromEntries(
      (await metrics.modelCalls.get()).values.map((v) => [String(v.labels.outcome), v.value]),
    );
  const inFlight = async (): Promise<number> =>
    (await metrics.modelCallsInFlight.get()).values.reduce((s, v) => s + v.value, 0);
  /** Runs callModel in the mock activity context. */
  const call = (input: InferenceInput): Promise<ModelCallResult> =>
    env.run((i: InferenceInput) => activities.callModel(i), input);
  return { env, call, calls, heartbeats, outcomes, inFlight, metrics, marks: () => marks };
}

import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import {
  createOrchestrationActivities,
  type OrchestrationDeps,
} from '../../../activities/orchestration-activities';
import { createLogger } from '../../../src/observability/logger';
import { createMetrics } from '../../../src/observability/metrics';
import type { ReservationRef, SettleResult } from '../../../src/quota/quota-store';
import type { InferenceInput, ModelCallResult, Usage } from '../../../src/shared/types';

/** How a reservation ended: the tokens committed (charged), or released (0 charged). */
export type Settled = { as: 'committed'; tokens: number } | { as: 'released' };

/** Options of {@link orchestrationSetup}. */
export interface FakeOptions {
  /** What chargePartial finds on the row (the last attempt's produced output), on every call. */
  partial?: Usage;
  /** Whether the request is a line of a batch its expiry stopped. */
  expiredBatchLine?: boolean;
  /** Fakes that throw this error instead of doing their step, by step name. */
  failing?: Partial<Record<Step, Error>>;
}

type Step = 'recordResult' | 'commit' | 'release' | 'finish' | 'markCompleted' | 'announce' | 'webhook';

/**
 * createOrchestrationActivities over fakes that keep the state the charge depends on: a quota that
 * settles a reservation once per request id (a repeat is a noop, as the Lua scripts are), a repo
 * whose chargePartial returns the same usage on every call, a relay and a webhook notifier. `journal`
 * lists every step in order; `settled` how each reservation ended.
 */
export function orchestrationSetup(o: FakeOptions = {}) {
  const journal: string[] = [];
  const settled = new Map<string, Settled>();
  const refs: ReservationRef[] = [];
  const step = (name: Step, entry: string): void => {
    const err = o.failing?.[name];
    if (err) throw err;
    journal.push(entry);
  };
  const settle = (ref: ReservationRef, s: Settled): SettleResult => {
    refs.push(ref);
    const before = settled.get(ref.requestId);
    if (before) return { outcome: 'noop', state: before.as };
    settled.set(ref.requestId, s);
    return { outcome: 'settled', from: 'reserved' };
  };
  const quota = {
    commit: async (ref: ReservationRef, tokens: number) => (
      step('commit', `commit ${tokens}`),
      settle(ref, { as: 'committed', tokens })
    ),
    release: async (ref: ReservationRef) => (step('release', 'release'), settle(ref, { as: 'released' })),
  };
  const requests = {
    chargePartial: async () => (journal.push('chargePartial'), o.partial),
    isExpiredBatchLine: async () => o.expiredBatchLine === true,
    recordResult: async (_i: unknown, r: ModelCallResult) => step('recordResult', `recordResult ${r.text}`),
    markCompleted: async () => (step('markCompleted', 'markCompleted'), []),
    finish: async (_id: string, status: string) => (step('finish', `finish ${status}`), []),
  };
  const ends: unknown[] = [];
  const deps: OrchestrationDeps = {
    requests: requests as never,
    quota: quota as never,
    metrics: createMetrics('test'),
    logger: createLogger({ component: 'test', level: 'silent' }),
    relay: {
      announceEnd: async (_id: string, status: string) => step('announce', `announce ${status}`),
    } as never,
    webhooks: {
      requestEnded: async (_i, end) => (ends.push(end), step('webhook', `webhook ${end.status}`)),
    },
  };
  const activities = createOrchestrationActivities(deps);
  const env = new MockActivityEnvironment({ isLocal: true }, { logger: new DefaultLogger('ERROR') });
  const counted = async (
    m: 'tokensCharged' | 'requestsFinished',
    label: 'kind' | 'status',
  ): Promise<Record<string, number>> =>
    Object.fromEntries(
      (await deps.metrics[m].get()).values.map((v) => [
        String((v.labels as Record<string, unknown>)[label]),
        v.value,
      ]),
    );
  return {
    journal,
    settled,
    refs,
    ends,
    /** Tokens counted as charged, by kind (prompt, completion). */
    tokensCharged: () => counted('tokensCharged', 'kind'),
    /** Requests counted as finished, by status. */
    finished: () => counted('requestsFinished', 'status'),
    failRequest: (i: InferenceInput, status: 'failed' | 'cancelled' | 'rejected', type = 'error') =>
      env.run((...a: Parameters<typeof activities.failRequest>) => activities.failRequest(...a), i, status, {
        type,
        message: `${status}: ${type}`,
      }),
    completeRequest: (i: InferenceInput, r: ModelCallResult) =>
      env.run((a: InferenceInput, b: ModelCallResult) => activities.completeRequest(a, b), i, r),
  };
}

import { defaultPayloadConverter } from '@temporalio/common';
import { Registry } from 'prom-client';
import { DeferredStarts } from '../../../src/inference/deferred-starts';
import { InputSealer } from '../../../src/inference/sealed-input';
import { startMetrics } from '../../../src/inference/start-metrics';
import { createLogger } from '../../../src/observability/logger';
import type { InferenceInput } from '../../../src/shared/types';

/**
 * Accepts come first: a start asked for while an accept is in progress waits for it to end, for at
 * most maxDeferMs. The gateway and the outbox are fakes (this tests the ordering alone; the starts
 * against a real Temporal server are in test/integration/deferred-starts.test.ts).
 */
const input = (id: string) => ({ requestId: id, acceptedAt: new Date().toISOString() }) as InferenceInput;

function deferred(maxDeferMs: number) {
  const started: string[] = [];
  const registry = new Registry();
  const starts = new DeferredStarts({
    workflows: {
      start: async (i: InferenceInput) => {
        started.push(i.requestId);
      },
    },
    pending: {
      older: async () => [],
      of: async () => undefined,
      clear: async () => 0,
      clearFinished: async () => 0,
    },
    sealer: new InputSealer({ payloadConverter: defaultPayloadConverter, payloadCodecs: [] }),
    metrics: startMetrics(registry),
    logger: createLogger({ component: 'deferred-starts-order-test', level: 'silent' }),
    recoverAfterS: 3600,
    maxDeferMs,
  });
  return { starts, started, registry };
}

/** Lets the starts under way run (each is a few awaits on resolved promises). */
const settle = () => new Promise((r) => setImmediate(r));

test('with no accept in progress a start goes at once', async () => {
  const { starts, started } = deferred(60_000);
  starts.startSoon(input('a'));
  await settle();
  expect(started).toEqual(['a']);
});

test('starts asked for during accepts wait until the last of them ends, then all go', async () => {
  const { starts, started } = deferred(60_000);
  const endFirst = starts.accepting();
  const endSecond = starts.accepting();
  starts.startSoon(input('a'));
  starts.startSoon(input('b'));
  endFirst();
  await settle();
  expect(started).toEqual([]);
  endSecond();
  await settle();
  expect(started).toEqual(['a', 'b']);
});

test('ending an accept twice counts once: a later accept still holds the starts back', async () => {
  const { starts, started } = deferred(60_000);
  const end = starts.accepting();
  end();
  end();
  const endLater = starts.accepting();
  starts.startSoon(input('a'));
  await settle();
  expect(started).toEqual([]);
  endLater();
  await settle();
  expect(started).toEqual(['a']);
});

test('a start waits no longer than maxDeferMs, even while accepts go on', async () => {
  const { starts, started } = deferred(20);
  const end = starts.accepting();
  starts.startSoon(input('a'));
  await settle();
  expect(started).toEqual([]);
  for (let i = 0; i < 200 && started.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(started).toEqual(['a']);
  end();
});

test('maxDeferMs 0 starts at once during accepts', async () => {
  const { starts, started } = deferred(0);
  const end = starts.accepting();
  starts.startSoon(input('a'));
  await settle();
  expect(started).toEqual(['a']);
  end();
});

test('stop starts what still waits, and the start is counted', async () => {
  const { starts, started, registry } = deferred(60_000);
  starts.accepting();
  starts.startSoon(input('a'));
  await starts.stop();
  expect(started).toEqual(['a']);
  const m = await registry.getSingleMetric('inference_workflow_starts_total')!.get();
  expect(m.values.find((v) => v.labels.by === 'accept' && v.labels.outcome === 'started')?.value).toBe(1);
});

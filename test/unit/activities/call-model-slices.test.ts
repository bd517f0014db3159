import { ApplicationFailure } from '@temporalio/common';
import { Registry } from 'prom-client';
import type { GenerateOptions } from '../../../src/models/model-adapter';
import { createLogger } from '../../../src/observability/logger';
import type { ExtendResult, ReservationRef } from '../../../src/quota/quota-store';
import { ReservationSlices, ReservationCut } from '../../../src/quota/reservation-slices';
import { sliceMetrics } from '../../../src/quota/slice-metrics';
import type { ModelCallResult } from '../../../src/shared/types';
import { inferenceInput } from '../../support/inference-input';
import { gpuSetup, untilAborted } from './gpu-fakes';

/**
 * callModel with reservation in slices, against an in-memory quota: tokens pass only once reserved,
 * each slice is written to PostgreSQL before Redis, a refused slice ends the call with exactly the
 * reserved tokens (finish_reason length, stop_reason quota_exhausted) and aborts the model call.
 */

const PROMPT = 5;
const piece = (i: number): string => `w${i} `;

/** An in-memory tenant: `room` tokens free under its limits; extend grants up to it, as extend.lua. */
function fakeQuota(room: number, o: { failures?: number } = {}) {
  const journal: string[] = [];
  let reserved = 0;
  let failures = o.failures ?? 0;
  return {
    journal,
    reservedNow: () => reserved,
    init: (tokens: number) => (reserved = tokens),
    quota: {
      extend: async (_ref: ReservationRef, slice: number, target: number): Promise<ExtendResult> => {
        await new Promise((r) => setImmediate(r));
        journal.push(`extend ${slice} ${target}`);
        if (failures > 0) {
          failures -= 1;
          throw new Error('redis down');
        }
        if (reserved >= target) return { outcome: 'granted', reserved };
        const grant = Math.min(target - reserved, room);
        if (grant <= 0) {
          return {
            outcome: 'refused',
            limit: 'tokens_per_day',
            limitValue: 100,
            used: 0,
            reserved: 100,
            resetsAt: new Date(),
            reservedByRequest: reserved,
          };
        }
        room -= grant;
        reserved += grant;
        return { outcome: reserved >= target ? 'granted' : 'partial', reserved };
      },
    },
  };
}

function slicesOf(q: ReturnType<typeof fakeQuota>, extendPatienceMs?: number) {
  const metrics = sliceMetrics(new Registry());
  const slices = new ReservationSlices({
    quota: q.quota,
    persist: async (_id, tokens) => void q.journal.push(`persist ${tokens}`),
    metrics,
    logger: createLogger({ component: 't', level: 'silent' }),
    extendPatienceMs,
  });
  return { slices, metrics };
}

/** A model that streams `n` one-token pieces, yielding between them, and stops when aborted. */
function model(n: number, seen: { aborted?: unknown }) {
  return async (o: GenerateOptions): Promise<ModelCallResult> => {
    let text = '';
    for (let i = 0; i < n; i++) {
      if (o.signal.aborted) {
        seen.aborted = o.signal.reason;
        return untilAborted(o.signal);
      }
      text += piece(i);
      o.onText?.(piece(i));
      o.onProgress?.(i + 1);
      await new Promise((r) => setImmediate(r));
    }
    return {
      text,
      finishReason: 'stop',
      usageReported: true,
      usage: { prompt_tokens: PROMPT, completion_tokens: n, total_tokens: PROMPT + n },
    };
  };
}

const text = (n: number): string => Array.from({ length: n }, (_, i) => piece(i)).join('');

test('with room, the reservation grows slice by slice (PostgreSQL first) and the answer is whole', async () => {
  const q = fakeQuota(1000);
  const { slices, metrics } = slicesOf(q);
  const inp = inferenceInput('gpu', {
    model: 'm',
    promptTokens: PROMPT,
    maxTokens: 20,
    estimatedTokens: PROMPT + 4,
  });
  q.init(inp.estimatedTokens);
  const seen = {};
  const s = gpuSetup(model(20, seen), { slices });
  const r = await s.call(inp);
  expect(r.text).toBe(text(20));
  expect(r.stopReason).toBeUndefined();
  expect(q.reservedNow()).toBe(PROMPT + 20);
  // Slices 2..5 of 4 tokens, each written to PostgreSQL before Redis.
  expect(q.journal).toEqual([
    'persist 13',
    'extend 2 13',
    'persist 17',
    'extend 3 17',
    'persist 21',
    'extend 4 21',
    'persist 25',
    'extend 5 25',
  ]);
  expect((await metrics.extensions.get()).values).toEqual([
    expect.objectContaining({ labels: { model: 'm', outcome: 'granted' }, value: 4 }),
  ]);
});

test('a refused slice stops the generation at its reservation: length, quota_exhausted, the model call aborted', async () => {
  const q = fakeQuota(6); // 4 + 6 = 10 completion tokens in all
  const { slices, metrics } = slicesOf(q);
  const inp = inferenceInput('gpu', {
    model: 'm',
    promptTokens: PROMPT,
    maxTokens: 40,
    estimatedTokens: PROMPT + 4,
  });
  q.init(inp.estimatedTokens);
  const seen: { aborted?: unknown } = {};
  const s = gpuSetup(model(40, seen), { slices });
  const r = await s.call(inp);
  expect(r).toEqual({
    text: text(10),
    finishReason: 'length',
    stopReason: 'quota_exhausted',
    usageReported: false,
    usage: { prompt_tokens: PROMPT, completion_tokens: 10, total_tokens: PROMPT + 10 },
  });
  expect(seen.aborted).toBeInstanceOf(ReservationCut);
  expect(r.usage.total_tokens).toBe(q.reservedNow()); // never one token past the reservation
  expect(await s.outcomes()).toEqual({ quota_exhausted: 1 });
  // A result, not a failure: nothing kept as partial, no attempt error.
  expect(s.calls.map((c) => c[0])).toEqual(['markAttempt', 'marked']);
  expect((await metrics.refusals.get()).values).toEqual([
    expect.objectContaining({ labels: { model: 'm', limit: 'tokens_per_day' }, value: 1 }),
  ]);
});

test('Redis unreachable past the patience: the attempt fails (retryable) with only reserved tokens kept', async () => {
  const q = fakeQuota(1000, { failures: Infinity });
  const { slices } = slicesOf(q, 600);
  const inp = inferenceInput('gpu', {
    model: 'm',
    promptTokens: PROMPT,
    maxTokens: 40,
    estimatedTokens: PROMPT + 8,
  });
  q.init(inp.estimatedTokens);
  const s = gpuSetup(model(40, {}), { slices });
  const err = await s.call(inp).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect((err as ApplicationFailure).nonRetryable).toBe(false);
  expect(s.calls).toContainEqual(['recordPartial', inp.requestId, 1, text(8), 8, 'error']);
});

test('a request that reserved its whole max_tokens (slices off, or accepted before them) is never extended', async () => {
  const q = fakeQuota(0);
  const { slices } = slicesOf(q);
  const inp = inferenceInput('gpu', {
    model: 'm',
    promptTokens: PROMPT,
    maxTokens: 12,
    estimatedTokens: PROMPT + 12,
  });
  const s = gpuSetup(model(12, {}), { slices });
  expect((await s.call(inp)).text).toBe(text(12));
  expect(q.journal).toEqual([]);
});

test('Redis back within the patience: the stream waits at its reservation, then goes on whole', async () => {
  const q = fakeQuota(1000, { failures: 9 }); // three extensions (3 tries each) fail
  const { slices, metrics } = slicesOf(q, 10_000);
  const inp = inferenceInput('gpu', {
    model: 'm',
    promptTokens: PROMPT,
    maxTokens: 30,
    estimatedTokens: PROMPT + 8,
  });
  q.init(inp.estimatedTokens);
  const s = gpuSetup(model(30, {}), { slices });
  const r = await s.call(inp);
  expect(r.text).toBe(text(30));
  expect(r.stopReason).toBeUndefined();
  expect((await metrics.extensions.get()).values).toContainEqual(
    expect.objectContaining({ labels: { model: 'm', outcome: 'error' }, value: 3 }),
  );
});

test('a continued answer: the earlier attempt’s tokens count against the reservation, never one token past it', async () => {
  const q = fakeQuota(2); // attempt 1 reserved 8 completion tokens in all; 2 more fit: 10
  const { slices } = slicesOf(q);
  const inp = inferenceInput('gpu', {
    model: 'm',
    promptTokens: PROMPT,
    maxTokens: 40,
    estimatedTokens: PROMPT + 4,
  });
  q.init(PROMPT + 8);
  const earlier = 'p0 p1 p2 p3 p4 p5 '; // 6 tokens (one per word), heartbeated by attempt 1
  const seen: { aborted?: unknown } = {};
  const s = gpuSetup(model(40, seen), {
    slices,
    info: { attempt: 2, heartbeatDetails: { tokens: 6, output: earlier } },
  });
  const r = await s.call(inp);
  expect(r).toMatchObject({
    text: earlier + text(4),
    finishReason: 'length',
    stopReason: 'quota_exhausted',
    usage: { prompt_tokens: PROMPT, completion_tokens: 10, total_tokens: PROMPT + 10 },
  });
  expect(r.usage.total_tokens).toBe(q.reservedNow());
  expect(seen.aborted).toBeInstanceOf(ReservationCut);
});

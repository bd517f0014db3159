import fc from 'fast-check';
import { Registry } from 'prom-client';
import { quotaFixture } from '../support/quota-fixture';
import { ReservationSlices, type SliceGate } from '../../src/quota/reservation-slices';
import { sliceMetrics } from '../../src/quota/slice-metrics';
import { createLogger } from '../../src/observability/logger';
import type { InferenceInput, ModelCallResult } from '../../src/shared/types';

/**
 * Reservation in slices, as a property over random interleavings of the requests of one tenant near
 * its daily token limit, against real Redis: requests start (reserve prompt + first slice), stream
 * tokens through the GPU activity's SliceGate (extensions on their way while other requests stream),
 * and end (commit what was passed on). At every step used + reserved <= limit; no request holds more
 * than one slice (and the lead) beyond what it produced; a request is refused only when the tokens
 * in use plus those bounded holdings leave less than its prompt and first slice; every request's
 * output is exactly the tokens it was billed for; in the end nothing stays reserved.
 */

const LIMIT = 1200;
const SLICE = 64;
const LEAD = Math.ceil(SLICE / 4);
const silent = createLogger({ component: 't', level: 'silent' });

type Op =
  | { kind: 'start'; prompt: number; max: number; len: number }
  | { kind: 'tokens'; pick: number; n: number }
  | { kind: 'yield' }
  | { kind: 'end'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .record({
        prompt: fc.integer({ min: 1, max: 120 }),
        max: fc.integer({ min: 1, max: 900 }),
        pct: fc.integer({ min: 0, max: 100 }),
      })
      .map(({ prompt, max, pct }) => ({
        kind: 'start' as const,
        prompt,
        max,
        len: Math.round((pct / 100) * max),
      })),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('tokens' as const),
      pick: fc.nat({ max: 99 }),
      n: fc.integer({ min: 1, max: 80 }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'yield' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('end' as const), pick: fc.nat({ max: 99 }) }) },
);

interface Sim {
  input: InferenceInput;
  len: number;
  gate?: SliceGate;
  emitted: number;
  output: string;
  billed?: ModelCallResult;
}

const piece = (i: number): string => `t${i} `;

test('one tenant near its limit: never over it, holdings bounded, refusals only without real headroom, reserved back to 0', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 80 }), async (ops) => {
      const f = await quotaFixture({
        tokens_per_day: LIMIT,
        tokens_per_month: 1_000_000,
        requests_per_minute: 10_000,
        requests_per_day: 10_000,
        max_in_flight: 10_000,
      });
      const slices = new ReservationSlices({
        quota: f.quota,
        persist: async () => undefined,
        metrics: sliceMetrics(new Registry()),
        logger: silent,
      });
      const acceptedAt = new Date();
      const open: Sim[] = [];
      const ended: Sim[] = [];
      let usedBySim = 0;
      let n = 0;

      const reservedOf = async (s: Sim): Promise<number> =>
        Number(await f.redis.hget(f.quota.keys.record(f.tenantId, s.input.requestId), 'tokens'));
      const check = async (): Promise<void> => {
        const st = (await f.quota.status(f.tenantId)).tokens_per_day;
        expect(st.used + st.reserved).toBeLessThanOrEqual(LIMIT);
        expect(st.used).toBe(usedBySim);
        for (const s of open) {
          const produced = s.emitted;
          const bound = Math.min(s.input.maxTokens, Math.max(SLICE, produced + SLICE + LEAD));
          expect(await reservedOf(s)).toBeLessThanOrEqual(s.input.promptTokens + bound);
        }
      };
      const emit = async (s: Sim, count: number): Promise<void> => {
        const text = s.gate ? s.gate.wrap((p) => (s.output += p)) : (p: string) => (s.output += p);
        for (let i = 0; i < count && s.emitted < s.len && !s.gate?.signal.aborted; i++) {
          text(piece(s.emitted++));
          if (i % 7 === 3) await Promise.resolve();
        }
      };
      const end = async (s: Sim): Promise<void> => {
        await emit(s, s.len);
        const prompt = s.input.promptTokens;
        const whole: ModelCallResult = {
          text: s.output,
          finishReason: 'stop',
          usageReported: true,
          usage: { prompt_tokens: prompt, completion_tokens: s.len, total_tokens: prompt + s.len },
        };
        const result = !s.gate
          ? whole
          : s.gate.signal.aborted
            ? s.gate.stoppedResult(s.output)!
            : await s.gate.finish(whole, () => s.output);
        s.billed = result;
        await f.quota.commit(
          { requestId: s.input.requestId, tenantId: f.tenantId, acceptedAt },
          result.usage.total_tokens,
        );
        usedBySim += result.usage.total_tokens;
        open.splice(open.indexOf(s), 1);
        ended.push(s);
      };

      try {
        for (const op of ops) {
          if (op.kind === 'start') {
            const first = Math.min(op.max, SLICE);
            const input: InferenceInput = {
              requestId: `${f.tenantId}-${n++}`,
              tenantId: f.tenantId,
              model: 'm',
              prompt: 'p',
              maxTokens: op.max,
              promptTokens: op.prompt,
              estimatedTokens: op.prompt + first,
              acceptedAt: acceptedAt.toISOString(),
              gpuTaskQueue: 'q',
              modelCall: { timeoutMs: 1000, maxAttempts: 1 },
              priority: { priorityKey: 3, fairnessKey: f.tenantId },
            };
            const ref = { requestId: input.requestId, tenantId: f.tenantId, acceptedAt };
            // What the in-flight requests hold at most: what they produced plus one slice (and the lead).
            const holdings = open.reduce(
              (a, s) =>
                a +
                s.input.promptTokens +
                Math.min(s.input.maxTokens, Math.max(SLICE, s.emitted + SLICE + LEAD)),
              0,
            );
            const r = await f.quota.reserve(ref, input.estimatedTokens);
            if (r.outcome === 'refused') {
              expect(r.limit).toBe('tokens_per_day');
              expect(LIMIT - usedBySim - holdings).toBeLessThan(input.estimatedTokens);
            } else {
              const s: Sim = { input, len: op.len, emitted: 0, output: '' };
              s.gate = slices.open(input, new AbortController().signal);
              open.push(s);
            }
          } else if (op.kind === 'tokens' && open.length) {
            await emit(open[op.pick % open.length]!, op.n);
          } else if (op.kind === 'yield') {
            await new Promise((r) => setTimeout(r, 3));
          } else if (op.kind === 'end' && open.length) {
            await end(open[op.pick % open.length]!);
          }
          await check();
        }
        while (open.length) await end(open[0]!);
        const st = (await f.quota.status(f.tenantId)).tokens_per_day;
        expect(st.reserved).toBe(0);
        expect(st.used).toBe(usedBySim);
        expect(st.used).toBeLessThanOrEqual(LIMIT);
        for (const s of ended) {
          const got = s.billed!.usage.completion_tokens;
          // The output is exactly the tokens billed, in order; a shorter one was stopped by the limit.
          expect(s.output).toBe(Array.from({ length: got }, (_, i) => piece(i)).join(''));
          if (got < s.len) {
            expect(s.billed).toMatchObject({ finishReason: 'length', stopReason: 'quota_exhausted' });
          } else {
            expect(s.billed!.stopReason).toBeUndefined();
          }
        }
      } finally {
        await f.close();
      }
    }),
    { numRuns: 40 },
  );
});

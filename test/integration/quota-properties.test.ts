import fc from 'fast-check';
import { quotaFixture } from '../support/quota-fixture';

/**
 * Property tests of the reservation state machine against real Redis: random sequences (and
 * concurrent batches) of reserve, commit, release, retries of each, and expiry sweeps. A pure model
 * says what the counters must be; the limit must never be exceeded.
 */

const LIMIT = 1000;
const IDS = ['a', 'b', 'c', 'd', 'e', 'f'];

type Op =
  | { kind: 'reserve'; id: string; tokens: number }
  | { kind: 'commit'; id: string; actual: number }
  | { kind: 'release'; id: string }
  | { kind: 'expire' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('reserve' as const),
    id: fc.constantFrom(...IDS),
    tokens: fc.integer({ min: 1, max: 400 }),
  }),
  fc.record({
    kind: fc.constant('commit' as const),
    id: fc.constantFrom(...IDS),
    actual: fc.integer({ min: 0, max: 400 }),
  }),
  fc.record({ kind: fc.constant('release' as const), id: fc.constantFrom(...IDS) }),
  fc.constant({ kind: 'expire' as const }),
);

interface ModelState {
  state: Map<string, { s: 'reserved' | 'committed' | 'released' | 'expired'; tokens: number }>;
  used: number;
}

function applyModel(m: ModelState, op: Op): void {
  const r = op.kind === 'expire' ? undefined : m.state.get(op.id);
  switch (op.kind) {
    case 'reserve': {
      if (r) return;
      const reserved = [...m.state.values()]
        .filter((x) => x.s === 'reserved')
        .reduce((a, x) => a + x.tokens, 0);
      if (m.used + reserved + op.tokens <= LIMIT) m.state.set(op.id, { s: 'reserved', tokens: op.tokens });
      return;
    }
    case 'commit':
      if (r && (r.s === 'reserved' || r.s === 'expired')) {
        r.s = 'committed';
        m.used += op.actual;
      }
      return;
    case 'release':
      if (r && (r.s === 'reserved' || r.s === 'expired')) r.s = 'released';
      return;
    case 'expire':
      for (const x of m.state.values()) if (x.s === 'reserved') x.s = 'expired';
  }
}

test('sequential: counters always equal the model, and the limit is never exceeded', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
      let now = Date.now();
      const f = await quotaFixture(
        {
          tokens_per_day: LIMIT,
          requests_per_minute: 10_000,
          requests_per_day: 10_000,
          max_in_flight: 10_000,
        },
        {
          now: () => new Date(now),
          reservationTtlS: 60,
        },
      );
      try {
        const at = new Date(now);
        const model: ModelState = { state: new Map(), used: 0 };
        for (const op of ops) {
          const ref =
            op.kind === 'expire'
              ? undefined
              : { requestId: `${f.tenantId}-${op.id}`, tenantId: f.tenantId, acceptedAt: at };
          if (op.kind === 'reserve') await f.quota.reserve(ref!, op.tokens);
          else if (op.kind === 'commit') await f.quota.commit(ref!, op.actual);
          else if (op.kind === 'release') await f.quota.release(ref!);
          else {
            now += 61_000;
            await f.quota.sweep(f.tenantId);
            now -= 61_000;
          }
          applyModel(model, op);
          const st = (await f.quota.status(f.tenantId)).tokens_per_day;
          const reserved = [...model.state.values()]
            .filter((x) => x.s === 'reserved')
            .reduce((a, x) => a + x.tokens, 0);
          expect(st.used).toBe(model.used);
          expect(st.reserved).toBe(reserved);
          // Reservations alone never exceed the limit (actual usage may exceed its estimate).
          expect(st.reserved).toBeLessThanOrEqual(LIMIT);
        }
      } finally {
        await f.close();
      }
    }),
    { numRuns: 40 },
  );
});

test('concurrent batches with retries: final counters are consistent and reservations never exceed the limit', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(opArb, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 5 }),
      async (batches) => {
        const f = await quotaFixture({
          tokens_per_day: LIMIT,
          requests_per_minute: 10_000,
          requests_per_day: 10_000,
          max_in_flight: 10_000,
        });
        const replicas = [f.quota, f.make()];
        try {
          const at = new Date();
          for (const batch of batches) {
            // Each op is sent twice (a retry after a lost reply) on different replicas, all at once.
            await Promise.all(
              batch.flatMap((op, i) =>
                [0, 1].map(async (dup) => {
                  const q = replicas[(i + dup) % 2]!;
                  if (op.kind === 'expire') return;
                  const ref = { requestId: `${f.tenantId}-${op.id}`, tenantId: f.tenantId, acceptedAt: at };
                  if (op.kind === 'reserve') await q.reserve(ref, op.tokens);
                  else if (op.kind === 'commit') await q.commit(ref, op.actual);
                  else await q.release(ref);
                }),
              ),
            );
            const st = (await f.quota.status(f.tenantId)).tokens_per_day;
            expect(st.reserved).toBeLessThanOrEqual(LIMIT);
          }
          // Ground truth from the records themselves.
          let reserved = 0;
          let used = 0;
          for (const id of IDS) {
            const rec = await f.redis.hgetall(f.quota.keys.record(f.tenantId, `${f.tenantId}-${id}`));
            if (rec.state === 'reserved') reserved += Number(rec.tokens);
            if (rec.state === 'committed') used += Number(rec.actual);
          }
          const st = (await f.quota.status(f.tenantId)).tokens_per_day;
          expect(st.reserved).toBe(reserved);
          expect(st.used).toBe(used);
        } finally {
          await f.close();
        }
      },
    ),
    { numRuns: 25 },
  );
});

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

/**
 * The request lifecycle with PostgreSQL as the truth, as the activities run it: reserve (a new
 * request: its row is written, as admitRequest does, then the reservation), a retried reserve of an
 * open request (admitRequest again), complete (ledger row + status in one transaction, then commit),
 * cancel (failRequest: the partial tokens go to the ledger and are committed, or with none produced
 * the reservation is released), a Redis loss (this test's keys only) and a forced rebuild from the
 * ledger. Actual tokens never exceed the reservation, as in the system (prompt + max_tokens).
 */
const FLOW_LIMIT = { tokens: 1000, inFlight: 3 };

type FlowOp =
  | { kind: 'reserve'; tokens: number }
  | { kind: 'reserveAgain'; pick: number }
  | { kind: 'complete' | 'cancel'; pick: number; frac: number }
  | { kind: 'lose' | 'rebuild' };

const pick = fc.nat({ max: 99 });
const frac = fc.double({ min: 0, max: 1, noNaN: true });
const flowOpArb: fc.Arbitrary<FlowOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('reserve' as const), tokens: fc.integer({ min: 1, max: 450 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reserveAgain' as const), pick }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('complete' as const), pick, frac }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick, frac }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'lose' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'rebuild' as const }) },
);

interface FlowRequest {
  id: string;
  tokens: number;
  /** open: reserved; charged: in the ledger with `charged` tokens; released: ended without a charge. */
  state: 'open' | 'charged' | 'released';
  charged: number;
}

test('model-based: reserve/complete/cancel/retries/Redis loss/rebuild never overshoot, and the counters end equal to the ledger', async () => {
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(fc.array(flowOpArb, { minLength: 1, maxLength: 40 }), async (ops) => {
      const now = new Date();
      const f = await quotaFixture(
        {
          tokens_per_day: FLOW_LIMIT.tokens,
          tokens_per_month: 1_000_000,
          requests_per_minute: 10_000,
          requests_per_day: 10_000,
          max_in_flight: FLOW_LIMIT.inFlight,
        },
        { now: () => now },
      );
      const model: FlowRequest[] = [];
      const open = (): FlowRequest[] => model.filter((r) => r.state === 'open');
      const ref = (r: FlowRequest) => ({ requestId: r.id, tenantId: f.tenantId, acceptedAt: now });
      const sql = (text: string, values: unknown[]) => f.pool.query(text, values);
      try {
        for (const [step, op] of ops.entries()) {
          if (op.kind === 'reserve') {
            const r: FlowRequest = {
              id: `${f.tenantId}-${step}`,
              tokens: op.tokens,
              state: 'open',
              charged: 0,
            };
            const admit =
              open().length < FLOW_LIMIT.inFlight &&
              model.reduce((a, x) => a + (x.state === 'open' ? x.tokens : x.charged), 0) + op.tokens <=
                FLOW_LIMIT.tokens;
            // The API reserves first; only an admitted request gets its row and workflow.
            const res = await f.quota.reserve(ref(r), op.tokens);
            expect({ step, outcome: res.outcome }).toEqual({ step, outcome: admit ? 'reserved' : 'refused' });
            if (admit) {
              await sql(
                `INSERT INTO requests (id, tenant_id, model, status, max_tokens, prompt_tokens, estimated_tokens, accepted_at)
                 VALUES ($1, $2, 'm', 'queued', $3, 0, $3, $4)`,
                [r.id, f.tenantId, op.tokens, now],
              );
              model.push(r);
            }
          } else if (op.kind === 'reserveAgain') {
            const r = open()[op.pick % Math.max(1, open().length)];
            if (r) expect((await f.quota.reserve(ref(r), r.tokens)).outcome).toBe('exists');
          } else if (op.kind === 'complete' || op.kind === 'cancel') {
            // Retries of an ended request are included: they must change nothing.
            const r = model[op.pick % Math.max(1, model.length)];
            if (!r) continue;
            const tokens = Math.floor(op.frac * r.tokens);
            const charge = op.kind === 'complete' || tokens > 0;
            if (r.state === 'open') {
              if (charge) await f.ledgerRow(f.tenantId, r.id, tokens, now, false);
              await (charge ? f.quota.commit(ref(r), tokens) : f.quota.release(ref(r)));
              await sql('UPDATE requests SET status = $2, total_tokens = $3 WHERE id = $1', [
                r.id,
                op.kind === 'complete' ? 'completed' : 'cancelled',
                charge ? tokens : null,
              ]);
              Object.assign(r, { state: charge ? 'charged' : 'released', charged: charge ? tokens : 0 });
            } else {
              await (charge ? f.quota.commit(ref(r), tokens) : f.quota.release(ref(r)));
            }
          } else if (op.kind === 'lose') {
            await f.flush();
          } else {
            await f.quota.forceRebuild(f.tenantId);
          }

          // Every step: the counters are the model's, and no limit is overshot.
          const st = await f.quota.status(f.tenantId);
          const used = model.reduce((a, x) => a + x.charged, 0);
          const reserved = open().reduce((a, x) => a + x.tokens, 0);
          const tokens = { step, used: st.tokens_per_day.used, reserved: st.tokens_per_day.reserved };
          expect(tokens).toEqual({ step, used, reserved });
          expect(st.max_in_flight.reserved).toBe(open().length);
          expect(st.requests_per_day.used).toBe(model.filter((x) => x.state === 'charged').length);
          expect(used + reserved).toBeLessThanOrEqual(FLOW_LIMIT.tokens);
          expect(open().length).toBeLessThanOrEqual(FLOW_LIMIT.inFlight);
        }

        // At the end the counters are what PostgreSQL says: the ledger plus the open requests.
        const { rows } = await f.pool.query<{ n: number; tokens: number; open: number; reserved: number }>(
          `SELECT (SELECT count(*)::int FROM usage_ledger WHERE tenant_id = $1) AS n,
                  (SELECT COALESCE(sum(total_tokens), 0)::int FROM usage_ledger WHERE tenant_id = $1) AS tokens,
                  (SELECT count(*)::int FROM requests WHERE tenant_id = $1 AND status IN ('queued', 'running')) AS open,
                  (SELECT COALESCE(sum(estimated_tokens), 0)::int FROM requests
                    WHERE tenant_id = $1 AND status IN ('queued', 'running')) AS reserved`,
          [f.tenantId],
        );
        const st = await f.quota.status(f.tenantId);
        expect({
          n: st.requests_per_day.used,
          tokens: st.tokens_per_day.used,
          open: st.max_in_flight.reserved,
          reserved: st.tokens_per_day.reserved,
        }).toEqual(rows[0]);
      } finally {
        await f.close();
      }
    }),
    { numRuns: 100 },
  );
  // The budget of this property on a shared 2-core machine.
  expect(Date.now() - started).toBeLessThan(30_000);
});

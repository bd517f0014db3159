import { randomBytes } from 'node:crypto';
import { createLogger } from '../../src/observability/logger';
import { createMetrics } from '../../src/observability/metrics';
import { ledgerTotals } from '../../src/quota/ledger-totals';
import { QuotaAuditor } from '../../src/quota/quota-audit';
import { PgQuotaStateSource } from '../../src/quota/quota-state-source';
import { UsageRepo } from '../../src/requests/usage-repo';
import { countingReads } from '../support/ledger-reads';
import { quotaFixture } from '../support/quota-fixture';

type Fixture = Awaited<ReturnType<typeof quotaFixture>>;
let f: Fixture;
afterEach(async () => {
  await f?.close();
});

/** `n` completed requests of `tenant` and their ledger rows, window_at = `first` + i x `stepS`. */
async function bulkLedger(
  tenant: string,
  n: number,
  first: string,
  stepS: number,
  createdAt = 'now()',
): Promise<void> {
  const tag = randomBytes(4).toString('hex');
  await f.pool.query(
    `WITH r AS (
       INSERT INTO requests (id, tenant_id, model, status, max_tokens, prompt_tokens, estimated_tokens,
                             total_tokens, completion_tokens, accepted_at)
       SELECT 'inf_' || $2 || '_' || i, $1, CASE WHEN i % 3 = 0 THEN 'm2' ELSE 'm' END, 'completed', 10,
              i % 5, 1 + i % 5 + i % 7, 1 + i % 5 + i % 7, 1 + i % 7,
              ${first} + make_interval(secs => i * $4)
       FROM generate_series(0, $3 - 1) i
       RETURNING id, tenant_id, model, prompt_tokens, completion_tokens, total_tokens, accepted_at)
     INSERT INTO usage_ledger (request_id, tenant_id, model, prompt_tokens, completion_tokens, total_tokens,
                               window_at, created_at)
     SELECT id, tenant_id, model, prompt_tokens, completion_tokens, total_tokens, accepted_at, ${createdAt}
     FROM r`,
    [tenant, tag, n, stepS],
  );
}

const direct = async (tenant: string, from: Date, to: Date) => {
  const { rows } = await f.pool.query<{ n: string; t: string }>(
    `SELECT count(*) AS n, COALESCE(sum(total_tokens), 0) AS t FROM usage_ledger
     WHERE tenant_id = $1 AND window_at >= $2 AND window_at < $3`,
    [tenant, from, to],
  );
  return { requests: Number(rows[0]!.n), tokens: Number(rows[0]!.t) };
};

test('the daily rollup follows every insert, update and delete of the ledger', async () => {
  f = await quotaFixture({ tokens_per_day: 1_000_000 });
  const other = await f.addTenant(`${f.tenantId}-b`, { tokens_per_day: 1_000_000 });
  // 400 rows each, one every 17 minutes: about 4.7 days, across UTC midnights.
  await bulkLedger(f.tenantId, 400, `'2026-10-29T05:00:00Z'::timestamptz`, 17 * 60);
  await bulkLedger(other, 400, `'2026-10-30T23:00:00Z'::timestamptz`, 13 * 60);
  await f.pool.query(
    `UPDATE usage_ledger SET total_tokens = total_tokens + 100, completion_tokens = completion_tokens + 100,
       model = 'm3'
     WHERE request_id IN (SELECT request_id FROM usage_ledger WHERE tenant_id = $1 ORDER BY id LIMIT 3)`,
    [f.tenantId],
  );
  await f.pool.query(
    `DELETE FROM usage_ledger WHERE request_id IN
       (SELECT request_id FROM usage_ledger WHERE tenant_id = $1 ORDER BY id DESC LIMIT 5)`,
    [other],
  );
  const compare = `
    SELECT tenant_id, day::text, model, sum(requests)::int AS requests, sum(prompt_tokens)::int AS prompt,
           sum(completion_tokens)::int AS completion, sum(total_tokens)::int AS tokens
    FROM usage_daily WHERE tenant_id = ANY($1) GROUP BY 1, 2, 3 HAVING sum(requests) > 0 ORDER BY 1, 2, 3`;
  const fromLedger = `
    SELECT tenant_id, (window_at AT TIME ZONE 'UTC')::date::text AS day, model, count(*)::int AS requests,
           sum(prompt_tokens)::int AS prompt, sum(completion_tokens)::int AS completion,
           sum(total_tokens)::int AS tokens
    FROM usage_ledger WHERE tenant_id = ANY($1) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`;
  const rollup = (await f.pool.query(compare, [[f.tenantId, other]])).rows;
  expect(rollup.length).toBeGreaterThanOrEqual(20);
  expect(rollup).toEqual((await f.pool.query(fromLedger, [[f.tenantId, other]])).rows);
});

test('ledgerTotals equals summing the ledger, for ranges within a day, across days and months', async () => {
  f = await quotaFixture({ tokens_per_day: 1_000_000 });
  await bulkLedger(f.tenantId, 600, `'2026-09-28T10:00:00Z'::timestamptz`, 23 * 60);
  const ranges: [string, string][] = [
    ['2026-09-28T10:00:00Z', '2026-09-28T10:01:00Z'], // a minute
    ['2026-09-29T00:00:00Z', '2026-09-30T00:00:00Z'], // a whole day
    ['2026-09-28T11:13:00Z', '2026-10-03T07:00:00Z'], // partial days at both ends
    ['2026-10-01T00:00:00Z', '2026-11-01T00:00:00Z'], // a month
    ['2026-09-01T00:00:00Z', '2026-10-01T00:00:00Z'], // the month before, partly filled
    ['2026-09-30T23:59:00Z', '2026-10-01T00:01:00Z'], // across the month's midnight
    ['2026-10-02T00:00:00Z', '2026-10-02T13:30:00Z'], // from midnight to mid-day
    ['2026-10-05T00:00:00Z', '2026-10-05T00:00:00Z'], // empty
  ];
  for (const [a, b] of ranges) {
    const from = new Date(a);
    const to = new Date(b);
    expect({ range: a, ...(await ledgerTotals(f.pool, f.tenantId, from, to)) }).toEqual({
      range: a,
      ...(await direct(f.tenantId, from, to)),
    });
  }
});

test("the audit and the rebuild read the ledger's last minutes, not the month", async () => {
  f = await quotaFixture({ tokens_per_day: 100_000_000, tokens_per_month: 100_000_000 });
  // 3,000 ledger rows spread over today (one every 28 s from midnight UTC), written an hour ago.
  await bulkLedger(
    f.tenantId,
    3000,
    `date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`,
    28,
    `now() - interval '1 hour'`,
  );
  const today = await direct(
    f.tenantId,
    new Date(new Date().toISOString().slice(0, 10)),
    new Date(Date.now() + 86_400_000),
  );
  expect(today.requests).toBeGreaterThan(2000); // (rows past the end of today fall in the next day)

  // Rebuild of the tenant's counters (as after a Redis restart), counted.
  const rebuildReads = countingReads(f.pool, 'usage_ledger');
  const quota = f.make({ source: new PgQuotaStateSource(rebuildReads.pool) });
  const status = await quota.status(f.tenantId);
  const dayUsed = (
    await direct(
      f.tenantId,
      new Date(new Date().toISOString().slice(0, 10)),
      new Date(Date.parse(new Date().toISOString().slice(0, 10)) + 86_400_000),
    )
  ).tokens;
  expect(status.tokens_per_day).toMatchObject({ used: dayUsed });
  expect(rebuildReads.read()).toBeLessThan(100);

  // The audit agrees with the rebuilt counters (no drift) and reads as little.
  const auditReads = countingReads(f.pool, 'usage_ledger');
  const metrics = createMetrics('test');
  const auditor = new QuotaAuditor({
    pool: auditReads.pool,
    redis: f.redis,
    quota,
    metrics,
    logger: createLogger({ component: 't', level: 'silent' }),
    confirmDelayS: 0,
  });
  const drift = await auditor.audit(f.tenantId, false);
  expect(drift.map((d) => d.window).sort()).toEqual(['day', 'minute', 'month']);
  expect(drift.every((d) => d.requestsDrift === 0 && d.tokensDrift === 0)).toBe(true);
  expect(auditReads.read()).toBeLessThan(100);
  const timed = await metrics.registry.getSingleMetricAsString('inference_quota_audit_seconds');
  expect(timed).toMatch(/^inference_quota_audit_seconds_count\{[^}]*\} 1$/m);

  // A request written in the last minutes is among the rows the audit reads, and counted once.
  await f.ledgerRow(f.tenantId, `inf_${randomBytes(8).toString('hex')}`, 5, new Date());
  const after = await auditor.audit(f.tenantId, false);
  expect(after.find((d) => d.window === 'day')).toMatchObject({ tokensDrift: 5, requestsDrift: 1 });
});

test('the usage API sums agree with the ledger and read only its partial days', async () => {
  f = await quotaFixture({ tokens_per_day: 1_000_000 });
  await bulkLedger(f.tenantId, 2000, `'2026-08-30T09:00:00Z'::timestamptz`, 29 * 60);
  const direct = async (from: Date, to: Date, groupBy: string[]) => {
    const by = groupBy.map((_, i) => i + 1).join(', ');
    const { rows } = await f.pool.query<Record<string, string>>(
      `SELECT ${groupBy.join(', ')}, count(*) AS requests, sum(prompt_tokens) AS prompt_tokens,
              sum(completion_tokens) AS completion_tokens, sum(total_tokens) AS total_tokens
       FROM (SELECT to_char(window_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, * FROM usage_ledger) l
       WHERE tenant_id = $1 AND window_at >= $2 AND window_at < $3 GROUP BY ${by} ORDER BY ${by}`,
      [f.tenantId, from, to],
    );
    return rows.map((r) => ({
      ...r,
      requests: Number(r.requests),
      prompt_tokens: Number(r.prompt_tokens),
      completion_tokens: Number(r.completion_tokens),
      total_tokens: Number(r.total_tokens),
    }));
  };
  const reads = countingReads(f.pool, 'usage_ledger');
  const usage = new UsageRepo(reads.pool);
  // Partial days at both ends, 40 days in all.
  const from = new Date('2026-08-30T11:30:00Z');
  const to = new Date('2026-10-08T17:45:00Z');
  const byDayModel = await usage.query({ tenantId: f.tenantId, from, to, groupBy: ['day', 'model'] });
  expect(byDayModel.length).toBeGreaterThan(60);
  expect(byDayModel).toEqual(await direct(from, to, ['day', 'model']));
  // Two partial days (about 50 rows each), not the 2,000 rows of the range.
  expect(reads.read()).toBeLessThan(200);
  const byModel = await usage.query({ tenantId: f.tenantId, from, to, groupBy: ['model'] });
  const sum = (rows: { requests: number }[]) => rows.reduce((n, r) => n + r.requests, 0);
  expect(byModel.map((r) => r.model)).toEqual(['m', 'm2']);
  expect(sum(byModel)).toBe(sum(byDayModel));
  // Within one day: the ledger alone.
  const hour = await usage.query({
    tenantId: f.tenantId,
    from: new Date('2026-09-02T10:00:00Z'),
    to: new Date('2026-09-02T11:00:00Z'),
    groupBy: ['day'],
  });
  expect(hour).toEqual(
    await direct(new Date('2026-09-02T10:00:00Z'), new Date('2026-09-02T11:00:00Z'), ['day']),
  );
});

import { acceptChart } from '../../bench/harness/chart';
import { postgresState } from '../../bench/harness/postgres-state';
import { pidsMatching } from '../../bench/harness/procs';
import { runBench } from '../../bench/harness/run-bench';
import { startStack, type Stack } from '../support/stack';

/** `npm run bench` in miniature: checks the harness (every phase runs and reports), not the speed. */
let s: Stack;
beforeAll(async () => {
  s = await startStack({ modelService: { decodeMsPerToken: 0 } });
  await s.setLimits({ max_in_flight: 1000, requests_per_minute: 100_000, requests_per_day: 1_000_000 });
});
afterAll(() => s?.stop());

test('every phase of the benchmark runs against a real stack and reports its figures', async () => {
  const r = await runBench({
    api: s.apiUrl,
    model: s.modelUrl,
    apiKey: s.apiKey,
    modelName: 'ref-small',
    temporalAddress: process.env.TEST_TEMPORAL_ADDRESS!,
    namespace: 'default',
    // The stack's processes run in this one (the thread split reads it as the orchestration worker).
    pids: { api: () => [process.pid], orchestration: () => [process.pid] },
    temporalPids: pidsMatching(/temporal[^ ]* server start-dev/),
    temporalMetricsUrl: process.env.TEST_TEMPORAL_METRICS_URL,
    concurrency: 4,
    durationS: 2,
    pairs: 2,
    statusDurationS: 2,
    rates: [5, 10],
    rateDurationS: 1,
    sequential: 5,
    settleS: 1,
    burst: { clients: 3, rounds: 2 },
    maxTokens: 4,
  });
  expect(r.accept_sequential).toMatchObject({ completed: 5, errors: 0 });
  expect(r.accept_burst).toMatchObject({ clients: 3, rounds: 2, errors: 0 });
  expect(r.accept_burst.max_ms).toBeGreaterThanOrEqual(r.accept_burst.p50_ms);
  // The round that opened the connections is reported apart.
  expect(r.accept_burst.first_round.max_ms).toBeGreaterThanOrEqual(r.accept_burst.first_round.p50_ms);
  expect(r.accept_burst.first_round.p50_ms).toBeGreaterThan(0);
  // Every offered call is accounted for, and a failed one says why (the figures are not judged here).
  expect(r.accept_open_loop.map((a) => [a.rate, a.offered])).toEqual([
    [5, 5],
    [10, 10],
  ]);
  for (const a of r.accept_open_loop) {
    if (a.errors) console.log(`open loop at ${a.rate}/s: ${JSON.stringify(a.error_reasons)}`);
    expect(Object.values(a.error_reasons ?? {}).reduce((x, y) => x + y, 0)).toBe(a.errors);
  }
  for (const phase of [r.end_to_end, r.baseline_bare_temporal, r.baseline_model_direct]) {
    expect(phase.completed).toBeGreaterThan(0);
    expect(phase.p99_ms).toBeGreaterThanOrEqual(phase.p50_ms);
  }
  expect(Number.isFinite(r.ratios.completed_per_s_vs_bare)).toBe(true);
  // Ours and the bare baseline alternated twice; the totals are over both pairs.
  expect(r.pairs).toHaveLength(2);
  for (const p of r.pairs) {
    expect(p.ours_per_s).toBeGreaterThan(0);
    expect(p.bare_per_s).toBeGreaterThan(0);
    expect(p.ratio).toBeGreaterThan(0);
    expect(p.ours_cpu_ms).toBeGreaterThan(0);
    expect(p.ours_by_process.api).toBeGreaterThan(0);
    expect(p.bare_temporal_ms).toBeGreaterThanOrEqual(0);
  }
  expect(r.end_to_end.per_s).toBeGreaterThanOrEqual(Math.min(...r.pairs.map((p) => p.ours_per_s)) - 0.1);
  expect(r.end_to_end.per_s).toBeLessThanOrEqual(Math.max(...r.pairs.map((p) => p.ours_per_s)) + 0.1);
  expect(r.cpu_ms_per_request.api).toBeGreaterThan(0);
  expect(r.baseline_bare_temporal.cpu_ms_per_request['client+workers']).toBeGreaterThan(0);
  // A completed request's history, ours and bare: both shapes have their fixed count of events.
  expect(r.events_per_request.ours).toBeGreaterThanOrEqual(5);
  expect(r.events_per_request.bare).toBeGreaterThanOrEqual(5);
  expect(r.status_get.count).toBeGreaterThan(0);
  expect(r.status_get).toMatchObject({ errors: 0, load_errors: 0 });
  expect(r.status_get.under_load_per_s).toBeGreaterThan(0);
  expect(r.rss_mib.at_rest.api).toBeGreaterThan(0);
  expect(r.rss_mib.at_start.api).toBeGreaterThan(0);
  expect(r.rss_mib.settle_s).toBe(1);
  // CPU by thread: ours (here this process) and the bare baseline's process.
  for (const split of [
    r.threads_cpu_ms_per_request.orchestration!,
    r.threads_cpu_ms_per_request.bare_process,
  ]) {
    expect(split.main).toBeGreaterThan(0);
    expect(split.total).toBeGreaterThanOrEqual(split.main + split.workflow_thread);
  }
  // The server's own counters (the shared test server also serves other tests: only their presence).
  if (process.env.TEST_TEMPORAL_METRICS_URL) {
    for (const side of [r.temporal_server_per_request!.ours, r.temporal_server_per_request!.bare]) {
      expect(side['rpc StartWorkflowExecution']).toBeGreaterThan(0);
      expect(side['persistence UpdateWorkflowExecution']).toBeGreaterThan(0);
    }
  }
  expect(acceptChart(r.accept_open_loop)).toMatch(/^<svg[\s\S]*<polyline[\s\S]*<\/svg>$/);
});

test("the benchmark names PostgreSQL's state: autovacuum and the rows of requests, dead ones apart", async () => {
  expect((await postgresState(s.pool)).autovacuum).toMatch(/^(on|off)$/);
  await s.waitFinished(await s.submit('counted row', 4));
  // The statistics reach pg_stat_user_tables within about a second.
  let state = await postgresState(s.pool);
  for (let i = 0; i < 30 && state.requests_rows + state.requests_dead_rows === 0; i++) {
    await new Promise((r) => setTimeout(r, 200));
    state = await postgresState(s.pool);
  }
  expect(state.requests_rows + state.requests_dead_rows).toBeGreaterThan(0);
  expect(Number.isInteger(state.requests_dead_rows)).toBe(true);
});

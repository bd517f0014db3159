/**
 * `npm run bench`: our system against bare Temporal of the same shape and against the model service
 * alone, in one run, on `npm start`'s configuration. Uses a running stack (API at BENCH_API) or starts
 * one (dev/stack/stack.ts, model at 0 ms per token), prints a table, writes JSON and an SVG chart to
 * bench-results/ (git-ignored). See docs/benchmarks.md.
 *
 * Env: BENCH_API (http://127.0.0.1:8080), BENCH_MODEL_URL (http://127.0.0.1:8090),
 * TEMPORAL_ADDRESS (127.0.0.1:7233), DATABASE_URL, BENCH_CONCURRENCY (50), BENCH_DURATION_S (60),
 * BENCH_RATES (10,20,40,80), BENCH_RATE_DURATION_S (10), BENCH_SEQUENTIAL (300), BENCH_BURST_CLIENTS (50),
 * BENCH_BURST_ROUNDS (5), BENCH_MAX_TOKENS (16), BENCH_PAIRS (2: ours and the bare baseline alternate, each
 * BENCH_DURATION_S long, so both see the same drift of a shared host), BENCH_STATUS_DURATION_S (20: ours
 * under the end-to-end load while status GETs are timed, apart from the pairs),
 * BENCH_SETTLE_S (15: idle seconds before the RSS at rest is read; it is read at the start too),
 * BENCH_TEMPORAL_METRICS_URL (http://127.0.0.1:9468/metrics, npm start's dev server: its RPCs and
 * persistence operations per request are counted; not answering: not counted).
 *
 * Eager workflow start before and after, in one run: the stack the bench starts has a second API
 * with API_EAGER_START=false (STACK_API_EAGER_OFF_PORT = the API's port + 100); every phase runs
 * against it (eager off), then against the usual API (eager on), BENCH_EAGER_ROUNDS times (1),
 * alternating. BENCH_API_EAGER_OFF names that API on a running stack; without one, one mode only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createPool } from '../src/db/pool';
import { DEV_SERVER_METRICS_PORT } from '../dev/stack/temporal-dev-server';
import { TenantsRepo } from '../src/tenants/tenants-repo';
import { acceptChart } from './harness/chart';
import { postgresState, type PostgresState } from './harness/postgres-state';
import { environOf, pidsMatching } from './harness/procs';
import { runBench, type BenchResult } from './harness/run-bench';

const ROOT = join(__dirname, '..');
const env = process.env;
// Defaults follow npm start's own port settings, so a stack on other ports is found as it is started.
const API = env.BENCH_API ?? `http://127.0.0.1:${env.API_PORT ?? 8080}`;
/** The stack's second API, eager workflow start off (a stack the bench starts has one). */
const offPort = Number(new URL(API).port || 80) + 100;
let OFF_API = env.BENCH_API_EAGER_OFF;
const MODEL = env.BENCH_MODEL_URL ?? `http://127.0.0.1:${env.MODEL_SERVICE_PORT ?? 8090}`;
const num = (v: string | undefined, d: number): number => (v ? Number(v) : d);

async function up(url: string): Promise<boolean> {
  return fetch(url).then(
    (r) => r.ok,
    () => false,
  );
}

/** Starts `npm start`'s stack with the model at 0 ms per token, unless one already answers. */
async function ensureStack(): Promise<ChildProcess | undefined> {
  if (await up(`${API}/readyz`)) {
    console.log(`using the running stack at ${API} (its model latency settings apply)`);
    if (OFF_API && !(await up(`${OFF_API}/readyz`))) throw new Error(`${OFF_API} does not answer`);
    return undefined;
  }
  OFF_API = `http://127.0.0.1:${offPort}`;
  console.log('starting the stack (npm start: scripts/start.sh, MODEL_SERVICE_DECODE_MS_PER_TOKEN=0) ...');
  // start.sh builds dist/ and execs the stack, so `proc` is the stack itself.
  const proc = spawn('bash', [join(ROOT, 'scripts/start.sh')], {
    cwd: ROOT,
    env: {
      ...env,
      MODEL_SERVICE_DECODE_MS_PER_TOKEN: '0',
      MODEL_SERVICE_PREFILL_MS_PER_TOKEN: '0',
      STACK_API_EAGER_OFF_PORT: String(offPort),
    },
    stdio: 'ignore',
  });
  for (let i = 0; i < 1800 && !((await up(`${API}/readyz`)) && (await up(`${OFF_API}/readyz`))); i++) {
    if (proc.exitCode !== null) throw new Error(`the stack exited (${proc.exitCode}); see .data/logs/`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return proc;
}

function print(r: BenchResult, postgres: PostgresState): void {
  console.log(
    `\nsetup: ${JSON.stringify({ ...r.setup, postgres })}; machine: ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB`,
  );
  console.table({
    'ours: end to end': r.end_to_end,
    'bare Temporal, same shape': r.baseline_bare_temporal,
    'model service direct': r.baseline_model_direct,
    'accept, 1 sequential client': r.accept_sequential,
  });
  console.log('accept, bursts (ms):', r.accept_burst);
  console.log('accept, open loop (ms):');
  console.table(r.accept_open_loop);
  console.log('ours and bare Temporal, alternating (each pair: completed/s, ratio, CPU ms per request):');
  console.table(r.pairs.map(({ ours_by_process: _, ...p }) => p));
  console.log('ours by process in each pair (CPU ms per request; temporal: the server while ours ran):');
  console.table(r.pairs.map((p) => p.ours_by_process));
  console.log('ratios (over all pairs):', r.ratios);
  console.log(
    'CPU ms per request:',
    r.cpu_ms_per_request,
    ' bare:',
    r.baseline_bare_temporal.cpu_ms_per_request,
  );
  console.log('status GET under load:', r.status_get);
  console.log(
    'CPU ms per request by thread (orchestration worker; the bare baseline in the benchmark process):',
  );
  console.table(r.threads_cpu_ms_per_request);
  const server = r.temporal_server_per_request;
  if (server) {
    console.log('Temporal server work per request (a call counts once per server service it passes):');
    const ops = [...new Set([...Object.keys(server.ours), ...Object.keys(server.bare)])].sort();
    console.table(
      Object.fromEntries(ops.map((op) => [op, { ours: server.ours[op] ?? 0, bare: server.bare[op] ?? 0 }])),
    );
    console.log(
      '  GetCurrentClusterMetadata and GetNamespace: the dev server reads its search attributes from the database at each use (its cache is off by default); ours carries three more than bare (docs/benchmarks.md, eleventh round)',
    );
  } else {
    console.log('Temporal server work per request: not counted (its metrics endpoint did not answer)');
  }
  console.log('RSS MiB:', r.rss_mib);
}

/** The host's load average (1, 5, 15 min): the machine may be shared, so figures name it. */
const loadAverage = (): string =>
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;

/** One mode's figures the eager-start comparison puts side by side. */
function headline(r: BenchResult): Record<string, number | string> {
  const cpu = r.cpu_ms_per_request;
  return {
    'accept p50': r.accept_sequential.p50_ms,
    'accept p99': r.accept_sequential.p99_ms,
    'burst p50': r.accept_burst.p50_ms,
    'burst p99': r.accept_burst.p99_ms,
    'e2e p50': r.end_to_end.p50_ms,
    'done/s': r.end_to_end.per_s,
    'bare/s': r.baseline_bare_temporal.per_s,
    ratio: r.ratios.completed_per_s_vs_bare,
    events: r.events_per_request.ours,
    'events bare': r.events_per_request.bare,
    'temporal ms/req': cpu.temporal ?? NaN,
    'bare temporal ms/req': r.baseline_bare_temporal.cpu_ms_per_request.temporal,
    'api ms/req': cpu.api ?? NaN,
    'orch ms/req': cpu.orchestration ?? NaN,
    'ours ms/req': cpu['ours (api+workers+postgres+redis)'] ?? NaN,
    'RSS api': r.rss_mib.at_rest.api ?? NaN,
    'RSS orch': r.rss_mib.at_rest.orchestration ?? NaN,
    'RSS gpu': r.rss_mib.at_rest.gpu ?? NaN,
  };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const stack = await ensureStack();
  const pool = createPool({
    connectionString: env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/inference',
    max: 2,
  });
  const tenant = `bench-${randomBytes(3).toString('hex')}`;
  const apiKey = `sk-bench-${randomBytes(16).toString('hex')}`;
  const tenants = new TenantsRepo(pool);
  try {
    await tenants.ensure({ id: tenant, name: 'benchmark', tier: 'enterprise' });
    await tenants.setLimits(tenant, {
      requests_per_minute: 1_000_000,
      requests_per_day: 100_000_000,
      tokens_per_day: 1_000_000_000,
      tokens_per_month: 1_000_000_000,
      max_in_flight: 100_000,
    });
    await tenants.addApiKey(tenant, apiKey, 'bench');
    const postgres = await postgresState(pool);
    console.log(`PostgreSQL: ${JSON.stringify(postgres)}`);
    if (postgres.autovacuum !== 'on') {
      console.log(
        '  autovacuum is off: dead rows of earlier runs pile up and every run costs more than the one before (VACUUM between runs)',
      );
    }
    const temporalAddress = env.TEMPORAL_ADDRESS ?? `127.0.0.1:${env.STACK_TEMPORAL_PORT ?? 7233}`;
    // This checkout's processes only: other stacks may run on the same machine.
    const temporalPids = pidsMatching(
      new RegExp(`temporal[^ ]* server start-dev.*--port ${temporalAddress.split(':').pop()}( |$)`),
    );
    const mine = (file: string): RegExp => new RegExp(`${ROOT}/(dist/|dist-dev/)?${file}\\.[jt]s`);
    const apis = (): { on: number[]; off: number[] } => {
      const all = pidsMatching(mine('src/api/main'));
      const off = all.filter((p) => environOf(p).API_EAGER_START === 'false');
      return { off, on: all.filter((p) => !off.includes(p)) };
    };
    const modes = OFF_API
      ? (['off', 'on'] as const)
      : ([process.env.API_EAGER_START === 'false' ? 'off' : 'on'] as const);
    const rounds = num(env.BENCH_EAGER_ROUNDS, 1);
    const results: { mode: 'on' | 'off'; round: number; result: BenchResult }[] = [];
    for (let round = 1; round <= rounds; round++) {
      for (const mode of modes) {
        const url = mode === 'off' && OFF_API ? OFF_API : API;
        console.log(
          `\n=== eager workflow start ${mode} (${url}), round ${round}/${rounds}; ${loadAverage()}`,
        );
        const result = await runBench({
          api: url,
          model: MODEL,
          apiKey,
          modelName: env.BENCH_MODEL ?? 'ref-small',
          temporalAddress,
          namespace: env.TEMPORAL_NAMESPACE ?? 'default',
          pids: {
            // The API under test; the other one idles (its worker, eager on, still polls the queue).
            api: () => (OFF_API ? apis()[mode] : [...apis().on, ...apis().off]),
            ...(OFF_API ? { 'api (idle)': () => apis()[mode === 'on' ? 'off' : 'on'] } : {}),
            orchestration: () => pidsMatching(mine('workers/orchestration-worker')),
            gpu: () => pidsMatching(mine('workers/gpu-worker')),
            temporal: () => temporalPids,
            postgres: () => pidsMatching(/^postgres|bin\/postgres /),
            redis: () => pidsMatching(/^redis-server/),
            model: () => pidsMatching(mine('dev/model-service/main')),
          },
          temporalPids,
          temporalMetricsUrl:
            env.BENCH_TEMPORAL_METRICS_URL ??
            `http://127.0.0.1:${env.STACK_TEMPORAL_METRICS_PORT ?? DEV_SERVER_METRICS_PORT}/metrics`,
          concurrency: num(env.BENCH_CONCURRENCY, 50),
          durationS: num(env.BENCH_DURATION_S, 60),
          pairs: num(env.BENCH_PAIRS, 2),
          statusDurationS: num(env.BENCH_STATUS_DURATION_S, 20),
          rates: (env.BENCH_RATES ?? '10,20,40,80').split(',').map(Number),
          rateDurationS: num(env.BENCH_RATE_DURATION_S, 10),
          sequential: num(env.BENCH_SEQUENTIAL, 300),
          settleS: num(env.BENCH_SETTLE_S, 15),
          burst: { clients: num(env.BENCH_BURST_CLIENTS, 50), rounds: num(env.BENCH_BURST_ROUNDS, 5) },
          maxTokens: num(env.BENCH_MAX_TOKENS, 16),
          log: (l) => console.log(`- ${l}`),
        });
        print(result, postgres);
        results.push({ mode, round, result });
      }
    }
    console.log(`\neager workflow start, off against on (every round; ${loadAverage()}):`);
    console.table(results.map(({ mode, round, result }) => ({ mode, round, ...headline(result) })));
    const dir = join(ROOT, 'bench-results');
    mkdirSync(dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    writeFileSync(
      join(dir, `bench-${stamp}.json`),
      JSON.stringify(
        results.map(({ mode, round, result }) => ({
          eager_start: mode,
          round,
          ...result,
          setup: { ...result.setup, postgres },
        })),
        null,
        2,
      ),
    );
    const last = results[results.length - 1]!.result;
    writeFileSync(join(dir, `bench-${stamp}-accept.svg`), acceptChart(last.accept_open_loop));
    console.log(`\nwrote bench-results/bench-${stamp}.json and bench-${stamp}-accept.svg`);
  } finally {
    await pool.end();
    if (stack) {
      stack.kill('SIGINT');
      await new Promise((r) => stack.once('exit', r));
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

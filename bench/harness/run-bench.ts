import { Client, Connection } from '@temporalio/client';
import { startBareTemporal } from './bare-temporal';
import { httpCall, httpJson } from './http-client';
import { closedLoop, mergeLoads, openLoop, pct, round, type LoadResult } from './load';
import { cpuMs, rssMiB } from './procs';
import { addDelta, perRequest, scrapeServerCounters } from './server-metrics';
import { startStatusProber } from './status-prober';
import { splitPerRequest, threadCpu, threadSplit, type ThreadKind } from './threads';

/** CPU ms per pid now, to subtract later: a process started meanwhile counts from zero. */
const cpuSnapshot = (pids: number[]): Map<number, number> => new Map(pids.map((p) => [p, cpuMs([p])]));
const cpuSince = (before: Map<number, number>, pids: number[]): number =>
  pids.reduce((sum, p) => sum + cpuMs([p]) - (before.get(p) ?? 0), 0);

/** Where the system under test runs and how hard to push it. */
export interface BenchOptions {
  api: string;
  model: string;
  apiKey: string;
  modelName: string;
  temporalAddress: string;
  namespace: string;
  /**
   * Pids per process of our system (API, workers, Temporal server, PostgreSQL, Redis, model), looked
   * up again at each measurement: PostgreSQL starts a backend per new connection.
   */
  pids: Record<string, () => number[]>;
  /** Pids of the Temporal server (for the baseline's cost). */
  temporalPids: number[];
  /**
   * The Temporal server's Prometheus endpoint: its RPCs and persistence operations per request,
   * ours and the bare baseline's, are counted from it. Unset or not answering: not counted.
   */
  temporalMetricsUrl?: string;
  /** Closed-loop clients of the end-to-end phases. */
  concurrency: number;
  /** Length of each end-to-end phase, s (ours, bare baseline, model direct). */
  durationS: number;
  /**
   * Times ours and the bare baseline run, alternating (ours, bare, ours, bare, ...), each for
   * `durationS`: the host's speed drifts within minutes, and alternation puts both under the same
   * drift. Figures are over all of them; `pairs` in the result shows each pair's ratio.
   */
  pairs: number;
  /** Offered rates of the open-loop accept phase, requests/s, and how long each runs. */
  rates: number[];
  rateDurationS: number;
  /**
   * Length of the status phase, s: ours under the end-to-end load while a thread of its own reads
   * finished requests (GET /v1/inference/:id) every 20 ms. Apart from the pairs, whose throughput
   * and CPU compare with a baseline that serves no reads.
   */
  statusDurationS: number;
  /** Sequential accepts by one client. */
  sequential: number;
  /**
   * Seconds the system stays idle before its RSS at rest is read. A process just started still
   * holds its start's garbage for a few seconds (npm start's orchestration worker: 141 MiB when it
   * answers ready, 119 MiB ten seconds later); the RSS at the start is reported too. @default 0
   */
  settleS?: number;
  /** Bursts of accepts: `clients` submits at once, `rounds` times, each on a drained system. */
  burst: { clients: number; rounds: number };
  maxTokens: number;
  log?: (line: string) => void;
}

/** The processes the CPU target counts as ours (the Temporal server and the model are not). */
const OUR_SCOPE = ['api', 'orchestration', 'gpu', 'postgres', 'redis'] as const;

/** Completed calls per second of a phase. */
const perS = (r: LoadResult): number => r.completed / (r.elapsedMs / 1000);

const summary = (r: LoadResult) => ({
  completed: r.completed,
  errors: r.errors,
  ...(r.errors ? { error_reasons: r.errorReasons } : {}),
  per_s: round(perS(r)),
  p50_ms: round(pct(r.latencies, 50)),
  p99_ms: round(pct(r.latencies, 99)),
  max_ms: round(pct(r.latencies, 100)),
});

/** Runs every phase against a running system and returns the figures (no assertions). */
export async function runBench(o: BenchOptions) {
  const log = o.log ?? (() => undefined);
  const headers = { authorization: `Bearer ${o.apiKey}`, 'content-type': 'application/json' };
  const submit = async (prompt: string, wait?: number): Promise<{ id: string; status: number }> => {
    const res = await httpJson<{ id: string; status: string; error?: { type?: string } }>(
      `${o.api}/v1/inference`,
      {
        method: 'POST',
        headers: wait ? { ...headers, prefer: `wait=${wait}` } : headers,
        body: JSON.stringify({ model: o.modelName, prompt, max_tokens: o.maxTokens }),
      },
    );
    const body = res.json;
    if (res.status !== 202 && res.status !== 200)
      throw new Error(`HTTP ${res.status} ${body.error?.type ?? ''}`);
    if (wait && body.status !== 'completed') throw new Error(`not completed: ${body.status}`);
    return { id: body.id, status: res.status };
  };
  const rss = () => Object.fromEntries(Object.entries(o.pids).map(([k, p]) => [k, round(rssMiB(p()))]));

  const rssAtStart = rss();
  if (o.settleS) await new Promise((r) => setTimeout(r, o.settleS! * 1000));
  const rssAtRest = rss();
  log(`accept, one sequential client: ${o.sequential} requests`);
  /** Requests submitted by the accept phases: finished by the status phase, which reads them. */
  const ids: string[] = [];
  const accepted = ({ id }: { id: string }): void => void ids.push(id);
  const sequential = summary(
    await closedLoop(1, { total: o.sequential }, (i) => submit(`seq ${i}`).then(accepted)),
  );

  const accept: {
    rate: number;
    p50: number;
    p99: number;
    max: number;
    errors: number;
    achieved: number;
    offered: number;
    error_reasons?: Record<string, number>;
  }[] = [];
  for (const rate of o.rates) {
    log(`accept, open loop at ${rate}/s for ${o.rateDurationS} s`);
    const r = await openLoop(rate, o.rateDurationS * 1000, (i) => submit(`open ${rate} ${i}`).then(accepted));
    accept.push({
      rate,
      p50: round(pct(r.latencies, 50)),
      p99: round(pct(r.latencies, 99)),
      max: round(pct(r.latencies, 100)),
      errors: r.errors,
      achieved: round(r.completed / (r.elapsedMs / 1000)),
      offered: r.completed + r.errors,
      ...(r.errors ? { error_reasons: r.errorReasons } : {}),
    });
    await drain(o, headers);
  }

  log(
    `accept, bursts of ${o.burst.clients} clients at once, ${o.burst.rounds} times after one that opens their connections`,
  );
  const burst = { latencies: [] as number[], errors: 0, errorReasons: {} as Record<string, number> };
  // Round 0 opens the clients' connections (the phases before needed fewer): reported apart, as
  // `first_round`; the rounds after it are clients with a kept-alive connection, as an SDK holds.
  let firstRound: number[] = [];
  for (let round = 0; round <= o.burst.rounds; round++) {
    const r = await closedLoop(o.burst.clients, { total: o.burst.clients }, (i) =>
      submit(`burst ${round} ${i}`).then(accepted),
    );
    if (round === 0) firstRound = r.latencies;
    else burst.latencies.push(...r.latencies);
    burst.errors += r.errors;
    for (const [k, v] of Object.entries(r.errorReasons))
      burst.errorReasons[k] = (burst.errorReasons[k] ?? 0) + v;
    await drain(o, headers);
  }

  log(
    `status GET under load: ${o.concurrency} clients for ${o.statusDurationS} s (Prefer: wait), a finished request read every 20 ms`,
  );
  const prober = startStatusProber({ api: o.api, headers, ids });
  const statusLoad = await closedLoop(o.concurrency, { durationMs: o.statusDurationS * 1000 }, (i) =>
    submit(`status ${i}`, 60).then(() => undefined),
  );
  const { latencies: statusLat, errors: statusErrors } = await prober.stop();

  const cpuSpent: Record<string, number> = {};
  let rssUnderLoad: Record<string, number> = {};
  // The baseline's workers stay up across the pairs (idle pollers while ours runs, as our workers
  // are while it runs).
  const bare = await startBareTemporal(o.temporalAddress, o.namespace);
  await bare.run(-1); // warm-up: bundle loaded, queues created
  const oursRuns: LoadResult[] = [];
  const bareRuns: LoadResult[] = [];
  const bareSpent = { self: 0, temporal: 0 };
  // The server's counters and the threads' CPU, over the same windows as the pairs' CPU.
  const scrape = async () =>
    o.temporalMetricsUrl ? await scrapeServerCounters(o.temporalMetricsUrl) : undefined;
  const server = { ours: new Map<string, number>(), bare: new Map<string, number>(), complete: true };
  const threads = { ours: [] as Record<ThreadKind, number>[], bare: [] as Record<ThreadKind, number>[] };
  const pairs: {
    ours_per_s: number;
    bare_per_s: number;
    ratio: number;
    ours_cpu_ms: number;
    bare_cpu_ms: number;
    /** Ours' CPU ms per request by process in this pair, the Temporal server's included. */
    ours_by_process: Record<string, number>;
    /** The Temporal server's CPU ms per request while the bare baseline ran. */
    bare_temporal_ms: number;
  }[] = [];
  for (let k = 0; k < o.pairs; k++) {
    log(`end to end ${k + 1}/${o.pairs}: ours, ${o.concurrency} clients for ${o.durationS} s (Prefer: wait)`);
    const cpu0 = Object.fromEntries(Object.entries(o.pids).map(([name, p]) => [name, cpuSnapshot(p())]));
    if (k === 0) setTimeout(() => (rssUnderLoad = rss()), (o.durationS * 1000) / 2).unref();
    const orchestrationPid = o.pids.orchestration?.()[0];
    const oursThreads0 = orchestrationPid ? threadCpu(orchestrationPid) : undefined;
    const oursServer0 = await scrape();
    const ours = await closedLoop(o.concurrency, { durationMs: o.durationS * 1000 }, (i) =>
      submit(`e2e ${k} ${i}`, 60).then(() => undefined),
    );
    const oursServer1 = await scrape();
    if (oursServer0 && oursServer1) addDelta(server.ours, oursServer0, oursServer1);
    else server.complete = false;
    if (orchestrationPid && oursThreads0)
      threads.ours.push(threadSplit(orchestrationPid, oursThreads0, threadCpu(orchestrationPid)));
    const spent = Object.fromEntries(
      Object.entries(o.pids).map(([name, p]) => [name, cpuSince(cpu0[name]!, p())]),
    );
    for (const [name, ms] of Object.entries(spent)) cpuSpent[name] = (cpuSpent[name] ?? 0) + ms;
    oursRuns.push(ours);

    log(
      `end to end ${k + 1}/${o.pairs}: bare Temporal workflow of the same shape, ${o.concurrency} clients for ${o.durationS} s`,
    );
    const bareThreads0 = threadCpu(process.pid);
    const bareServer0 = await scrape();
    const self0 = process.cpuUsage();
    const temporal0 = cpuMs(o.temporalPids);
    const bareRun = await closedLoop(o.concurrency, { durationMs: o.durationS * 1000 }, (i) =>
      bare.run(k * 1e9 + i),
    );
    const self = process.cpuUsage(self0);
    threads.bare.push(threadSplit(process.pid, bareThreads0, threadCpu(process.pid)));
    const bareServer1 = await scrape();
    if (bareServer0 && bareServer1) addDelta(server.bare, bareServer0, bareServer1);
    else server.complete = false;
    const bareSelfMs = (self.user + self.system) / 1000;
    bareSpent.self += bareSelfMs;
    const bareTemporalMs = cpuMs(o.temporalPids) - temporal0;
    bareSpent.temporal += bareTemporalMs;
    bareRuns.push(bareRun);

    const oursScope = OUR_SCOPE.reduce((n, name) => n + (spent[name] ?? 0), 0);
    pairs.push({
      ours_per_s: round(perS(ours)),
      bare_per_s: round(perS(bareRun)),
      ratio: round(perS(ours) / Math.max(0.001, perS(bareRun)), 2),
      ours_cpu_ms: round(oursScope / Math.max(1, ours.completed)),
      bare_cpu_ms: round(bareSelfMs / Math.max(1, bareRun.completed)),
      ours_by_process: Object.fromEntries(
        Object.entries(spent).map(([name, ms]) => [name, round(ms / Math.max(1, ours.completed))]),
      ),
      bare_temporal_ms: round(bareTemporalMs / Math.max(1, bareRun.completed)),
    });
  }
  // History events of one request, ours and bare (each shape's count is fixed): each one is a write
  // the server makes and stores.
  const events = { ours: 0, bare: await bare.events(-1) };
  if (ids.length) {
    const connection = await Connection.connect({ address: o.temporalAddress });
    try {
      const client = new Client({ connection, namespace: o.namespace });
      events.ours =
        (await client.workflow.getHandle(ids[ids.length - 1]!).fetchHistory()).events?.length ?? 0;
    } finally {
      await connection.close();
    }
  }
  await bare.stop();
  const ours = mergeLoads(oursRuns);
  const bareRun = mergeLoads(bareRuns);
  const cpuPerRequest = Object.fromEntries(
    Object.entries(cpuSpent).map(([name, ms]) => [name, round(ms / Math.max(1, ours.completed))]),
  );
  const bareCpuPerRequest = {
    'client+workers': round(bareSpent.self / Math.max(1, bareRun.completed)),
    temporal: round(bareSpent.temporal / Math.max(1, bareRun.completed)),
  };

  log(`baseline: the same load straight to the model service for ${o.durationS} s`);
  const direct = await closedLoop(o.concurrency, { durationMs: o.durationS * 1000 }, async (i) => {
    const res = await httpCall(`${o.model}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: o.modelName, prompt: `direct ${i}`, max_tokens: o.maxTokens }),
    });
    if (res.status < 200 || res.status > 299) throw new Error(`HTTP ${res.status}`);
  });

  const e2e = summary(ours);
  const baseline = summary(bareRun);
  const model = summary(direct);
  const sum = (keys: readonly string[]): number =>
    keys.map((k) => cpuPerRequest[k] ?? 0).reduce((a, b) => a + b, 0);
  // The target's scope (API + workers + PostgreSQL + Redis), and the whole system with Temporal.
  const ourCpu = sum(OUR_SCOPE);
  const ourTotal = ourCpu + (cpuPerRequest.temporal ?? 0);
  const bareTotal = bareCpuPerRequest['client+workers'] + bareCpuPerRequest.temporal;
  return {
    setup: {
      concurrency: o.concurrency,
      duration_s: o.durationS,
      pairs: o.pairs,
      max_tokens: o.maxTokens,
      model: o.modelName,
      temporal: o.temporalAddress,
    },
    accept_sequential: sequential,
    accept_open_loop: accept,
    accept_burst: {
      clients: o.burst.clients,
      rounds: o.burst.rounds,
      p50_ms: round(pct(burst.latencies, 50)),
      p99_ms: round(pct(burst.latencies, 99)),
      max_ms: round(pct(burst.latencies, 100)),
      /** The round that opened the connections, not in the figures above. */
      first_round: {
        p50_ms: round(pct(firstRound, 50)),
        max_ms: round(pct(firstRound, 100)),
      },
      errors: burst.errors,
      ...(burst.errors ? { error_reasons: burst.errorReasons } : {}),
    },
    end_to_end: {
      ...e2e,
      orchestration_overhead_p50_ms: round(e2e.p50_ms - model.p50_ms),
      orchestration_overhead_p99_ms: round(e2e.p99_ms - model.p99_ms),
    },
    baseline_bare_temporal: { ...baseline, cpu_ms_per_request: bareCpuPerRequest },
    /** Each alternation of ours and the bare baseline: its throughputs, ratio and CPU per request. */
    pairs,
    baseline_model_direct: model,
    ratios: {
      completed_per_s_vs_bare: round(e2e.per_s / Math.max(0.001, baseline.per_s), 2),
      p50_vs_bare: round(e2e.p50_ms / Math.max(0.001, baseline.p50_ms), 2),
      completed_per_s_vs_model: round(e2e.per_s / Math.max(0.001, model.per_s), 2),
      cpu_with_temporal_vs_bare: round(ourTotal / Math.max(0.001, bareTotal), 2),
    },
    cpu_ms_per_request: <Record<string, number>>{
      ...cpuPerRequest,
      'ours (api+workers+postgres+redis)': round(ourCpu),
      'ours with temporal': round(ourTotal),
      'bare with temporal': round(bareTotal),
    },
    /** History events of one completed request: ours (an accepted request) and the bare workflow's. */
    events_per_request: events,
    /** GET /v1/inference/:id of finished requests while ours serves the end-to-end load. */
    status_get: {
      count: statusLat.length,
      errors: statusErrors,
      p50_ms: round(pct(statusLat, 50)),
      p99_ms: round(pct(statusLat, 99)),
      max_ms: round(pct(statusLat, 100)),
      under_load_per_s: round(perS(statusLoad)),
      load_errors: statusLoad.errors,
    },
    rss_mib: {
      /** When the run began (just after the stack answered ready, if it started it). */
      at_start: rssAtStart,
      /** After `settleS` idle. */
      at_rest: rssAtRest,
      under_load: rssUnderLoad,
      settle_s: o.settleS ?? 0,
    },
    /**
     * The Temporal server's RPCs, persistence operations and visibility writes per completed request
     * over the pairs (a call counts once per server service it passes), ours and the bare baseline's;
     * absent without the server's metrics.
     */
    ...(o.temporalMetricsUrl && server.complete
      ? {
          temporal_server_per_request: {
            ours: perRequest(server.ours, ours.completed),
            bare: perRequest(server.bare, bareRun.completed),
          },
        }
      : {}),
    /**
     * CPU ms per request by thread over the pairs: our orchestration worker's (absent when its pid is
     * not known) and the benchmark process's while the bare baseline runs (its client, both its
     * workers and the load loop).
     */
    threads_cpu_ms_per_request: {
      ...(threads.ours.length ? { orchestration: splitPerRequest(threads.ours, ours.completed) } : {}),
      bare_process: splitPerRequest(threads.bare, bareRun.completed),
    },
  };
}

/** Waits until the system has finished what an accept phase left running, so phases do not overlap. */
async function drain(o: BenchOptions, headers: Record<string, string>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const { json: body } = await httpJson<{ limits?: { max_in_flight?: { reserved?: number } } }>(
      `${o.api}/v1/quota`,
      { headers },
    );
    if ((body.limits?.max_in_flight?.reserved ?? 0) === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

export type BenchResult = Awaited<ReturnType<typeof runBench>>;

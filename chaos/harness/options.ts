import { join } from 'node:path';

/** Every fault the schedule knows, in the order it cycles through them. */
export const ALL_FAULTS = [
  'gpu-worker-kill',
  'model-5xx-burst',
  'orchestration-worker-kill',
  'model-429',
  'redis-restart-empty',
  'model-hang',
  'api-kill',
  'model-drop',
  'model-service-kill',
  'temporal-restart',
  'postgres-restart',
  // Overlapping faults: two or three at the same moment.
  'redis-and-postgres-restart',
  'temporal-restart-and-workers-kill',
] as const;
export type FaultKind = (typeof ALL_FAULTS)[number];

/** Options of one chaos run. */
export interface ChaosOptions {
  /** Seconds of load (faults are injected during it). @default 300 */
  durationS: number;
  /** Concurrent virtual clients. @default 8 */
  concurrency: number;
  /** Seconds from one fault to the next (each also waits for the stack to be ready again). @default 20 */
  faultIntervalS: number;
  /** Seconds of load before the first fault. @default 10 */
  warmupS: number;
  /** Faults injected in turn, cycled until the load stops. @default ALL_FAULTS */
  faults: FaultKind[];
  /** Longest wait, after the load stops, for every request and webhook to finish. @default 150 */
  drainS: number;
  /** The tenant's max_in_flight, below the concurrency so some submits are refused 429. @default 6 */
  maxInFlight: number;
  /** Model service decode latency per token, ms. @default 2 */
  decodeMsPerToken: number;
  /** REQUEST_DEADLINE_S of the stack: bounds how long any request can stay open. @default 60 */
  requestDeadlineS: number;
  /** Per-attempt timeout of a model call (a hang fault lasts this long). @default 10000 */
  modelTimeoutMs: number;
  /** Folder of the JSON result and the processes' logs. @default chaos-results */
  outDir: string;
  /** PostgreSQL binaries (initdb, postgres). @default /usr/lib/postgresql/15/bin */
  pgBin: string;
  /** The `temporal` CLI that runs the dev server. @default TEMPORAL_CLI, else temporal on PATH */
  temporalCli: string;
  /** Progress lines. @default console.log */
  say: (line: string) => void;
}

const ROOT = join(__dirname, '..', '..');

const num = (v: string | undefined, d: number): number => {
  if (v === undefined || v === '') return d;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`not a non-negative number: ${v}`);
  return n;
};

/** Options from CHAOS_* variables (the one place the chaos tool reads the environment). */
export function chaosOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ChaosOptions {
  const faults = (env.CHAOS_FAULTS ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  for (const f of faults)
    if (!(ALL_FAULTS as readonly string[]).includes(f))
      throw new Error(`CHAOS_FAULTS: unknown fault ${f}; known: ${ALL_FAULTS.join(', ')}`);
  return defaultChaosOptions({
    durationS: num(env.CHAOS_DURATION_S, 300),
    concurrency: num(env.CHAOS_CONCURRENCY, 8),
    faultIntervalS: num(env.CHAOS_FAULT_INTERVAL_S, 20),
    warmupS: num(env.CHAOS_WARMUP_S, 10),
    ...(faults.length ? { faults: faults as FaultKind[] } : {}),
    drainS: num(env.CHAOS_DRAIN_S, 150),
    maxInFlight: num(env.CHAOS_MAX_IN_FLIGHT, 6),
    decodeMsPerToken: num(env.CHAOS_DECODE_MS_PER_TOKEN, 2),
    requestDeadlineS: num(env.CHAOS_REQUEST_DEADLINE_S, 60),
    outDir: env.CHAOS_OUT_DIR ?? join(ROOT, 'chaos-results'),
    pgBin: env.CHAOS_PG_BIN ?? env.TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin',
    temporalCli: env.TEMPORAL_CLI ?? 'temporal',
  });
}

/** Fills in every option not given. */
export function defaultChaosOptions(o: Partial<ChaosOptions> = {}): ChaosOptions {
  return {
    durationS: 300,
    concurrency: 8,
    faultIntervalS: 20,
    warmupS: 10,
    faults: [...ALL_FAULTS],
    drainS: 150,
    maxInFlight: 6,
    decodeMsPerToken: 2,
    requestDeadlineS: 60,
    modelTimeoutMs: 10_000,
    outDir: join(ROOT, 'chaos-results'),
    pgBin: '/usr/lib/postgresql/15/bin',
    temporalCli: 'temporal',
    say: (line) => console.log(line),
    ...o,
  };
}

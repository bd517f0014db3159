import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../../src/shared/search-attributes';
import { freePort } from './free-port';

/** Options for {@link startTemporalDevServer}. */
export interface DevServerOptions {
  /** Path of the `temporal` CLI. */
  cli: string;
  /** Folder for the SQLite file and the log. */
  dataDir: string;
  /** gRPC port. @default 7233 */
  port?: number;
  /** Web UI port. @default 8233 */
  uiPort?: number;
  /** Codec server the Web UI decodes payloads with (`--ui-codec-endpoint`). @default none */
  codecEndpoint?: string;
  /** Port of the server's own Prometheus metrics. @default DEV_SERVER_METRICS_PORT */
  metricsPort?: number;
  /** Address the frontend, the Web UI and the metrics bind to. @default 127.0.0.1 */
  host?: string;
}

/**
 * The local stack's Temporal server publishes its own metrics (RPCs, persistence operations, task
 * dispatch) here, beside the stack's processes' metrics on 9463-9467: `npm run bench` reads them to
 * count the server's work per request, and a local Prometheus can scrape them.
 */
export const DEV_SERVER_METRICS_PORT = 9468;

/** Dynamic config for priority and per-tenant fairness on task queues. */
export const FAIRNESS_DYNAMIC_CONFIG = ['matching.useNewMatcher=true', 'matching.enableFairness=true'];

/**
 * One partition per task queue on the single-process dev server: with the default four, a task
 * written to a partition no poller is waiting on is forwarded to the root first (measured here on 20
 * sequential requests: workflow-task schedule-to-start p50 4.7 -> 3.7 ms, GPU activity dispatch
 * 3.3 -> 2.5 ms). A multi-node cluster keeps its partitions (they spread a queue's load).
 * Write before read, and never fewer read partitions than were written: a server that ran with four
 * would otherwise strand the tasks in partitions 1-3. So the read count stays at the default and
 * only writes go to the root, whose pollers every partition's poll is forwarded to.
 */
export const DEV_MATCHING_DYNAMIC_CONFIG = ['matching.numTaskqueueWritePartitions=1'];

/** Options for {@link devServerArgs}. */
export interface DevServerArgsOptions {
  /** Folder of the SQLite file; unset: in-memory and headless (tests, benchmarks). */
  dataDir?: string;
  /** gRPC port. */
  port: number;
  /** Web UI port. @default port + 1000 */
  uiPort?: number;
  /** Codec server of the Web UI (file-backed server only; the in-memory one is headless). @default none */
  codecEndpoint?: string;
  /** Priority and fairness on task queues. @default true */
  fairness?: boolean;
  /** Port of the server's Prometheus metrics (`/metrics`). @default a random port (the CLI's own) */
  metricsPort?: number;
  /**
   * SQLite pragmas of the file-backed server. The default trades the last transactions before a
   * power loss (not a process crash: the WAL survives that) for about 4x faster workflow starts.
   * @default DEV_SQLITE_PRAGMAS
   */
  sqlitePragmas?: string[];
  /** Address every listener binds to (frontend, HTTP API, Web UI, metrics). @default 127.0.0.1 */
  host?: string;
}

/**
 * WAL journal with `synchronous=normal`: a commit is an append to the write-ahead log without an
 * fsync each time. A crash of the server process loses nothing; an OS crash or power loss may lose
 * the last commits (the file stays consistent). Right for a development stack; production runs
 * Temporal on PostgreSQL, MySQL or Cassandra (docs/deploy.md).
 */
export const DEV_SQLITE_PRAGMAS = ['journal_mode=wal', 'synchronous=normal'];

/** Arguments of `temporal server start-dev` for this project. */
export function devServerArgs(o: DevServerArgsOptions): string[] {
  return [
    'server',
    'start-dev',
    ...(o.dataDir
      ? [
          '--db-filename',
          join(o.dataDir, 'temporal.sqlite'),
          '--ui-port',
          String(o.uiPort ?? o.port + 1000),
          ...(o.codecEndpoint ? ['--ui-codec-endpoint', o.codecEndpoint] : []),
          ...(o.sqlitePragmas ?? DEV_SQLITE_PRAGMAS).flatMap((p) => ['--sqlite-pragma', p]),
        ]
      : ['--headless']),
    '--port',
    String(o.port),
    ...(o.metricsPort !== undefined ? ['--metrics-port', String(o.metricsPort)] : []),
    // --ui-ip defaults to --ip; said anyway so a CLI that changed its default cannot widen the UI.
    '--ip',
    o.host ?? '127.0.0.1',
    ...(o.dataDir ? ['--ui-ip', o.host ?? '127.0.0.1'] : []),
    '--log-level',
    'warn',
    ...Object.entries(SEARCH_ATTRIBUTE_REGISTRATIONS).flatMap(([k, t]) => [
      '--search-attribute',
      `${k}=${t}`,
    ]),
    ...[...(o.fairness === false ? [] : FAIRNESS_DYNAMIC_CONFIG), ...DEV_MATCHING_DYNAMIC_CONFIG].flatMap(
      (kv) => ['--dynamic-config-value', kv],
    ),
  ];
}

/** Resolves once the frontend at `address` answers GetSystemInfo; rejects with why it did not. */
async function probeTemporal(address: string): Promise<void> {
  const conn = await Connection.connect({ address, connectTimeout: 1000 });
  try {
    await conn.workflowService.getSystemInfo({});
  } finally {
    await conn.close();
  }
}

/** True when the frontend at `address` answers GetSystemInfo (a readiness probe). */
export function temporalAnswers(address: string): Promise<boolean> {
  return probeTemporal(address).then(
    () => true,
    () => false,
  );
}

/** Resolves once the frontend at `address` answers, or rejects after `timeoutMs`. */
export async function waitForTemporal(
  address: string,
  timeoutMs: number,
  child?: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null)
      throw new Error(`temporal dev server exited with code ${child.exitCode}`);
    try {
      await probeTemporal(address);
      return;
    } catch (err) {
      lastErr = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(
    `Temporal at ${address} did not answer within ${timeoutMs} ms: ${(lastErr as Error)?.message}`,
  );
}

/** Starts `temporal server start-dev` on a SQLite file, so workflows survive a restart. */
export function startTemporalDevServer(opts: DevServerOptions): ChildProcess {
  mkdirSync(opts.dataDir, { recursive: true });
  const log = createWriteStream(join(opts.dataDir, 'temporal.log'), { flags: 'a' });
  const child = spawn(
    opts.cli,
    devServerArgs({
      dataDir: opts.dataDir,
      port: opts.port ?? 7233,
      uiPort: opts.uiPort ?? 8233,
      codecEndpoint: opts.codecEndpoint,
      metricsPort: opts.metricsPort ?? DEV_SERVER_METRICS_PORT,
      host: opts.host,
    }),
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

/** An in-memory, headless dev server on free ports (tests and benchmarks), metrics included. */
export async function startEphemeralDevServer(
  cli: string,
  opts: { fairness?: boolean } = {},
): Promise<{ address: string; metricsUrl: string; proc: ChildProcess }> {
  const port = await freePort();
  const metricsPort = await freePort();
  const proc = spawn(cli, devServerArgs({ port, metricsPort, fairness: opts.fairness }), {
    stdio: 'ignore',
  });
  const address = `127.0.0.1:${port}`;
  await waitForTemporal(address, 60_000, proc);
  return { address, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`, proc };
}

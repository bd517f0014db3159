import { Runtime, type NativeConnection, type Worker } from '@temporalio/worker';
import type { Logger } from '../observability/logger';
import type { DependencyReporter } from '../observability/dependency-monitor';

/** Options for {@link WorkerSupervisor}. */
export interface WorkerSupervisorOptions {
  logger: Logger;
  /** Opens a fresh connection to the Temporal frontend (or hands out the shared one, see below). */
  connect: () => Promise<NativeConnection>;
  /**
   * Whether the supervisor closes the connection after the workers stop or fail. `false` for a
   * connection the process shares with its client (the API's eager-start worker): it outlives the
   * workers, a restart reuses it (Core reconnects it on its own), and its owner closes it.
   * @default true
   */
  ownsConnection?: boolean;
  /** Creates this process's workers on `connection` (not yet running). */
  createWorkers: (connection: NativeConnection) => Promise<Worker[]>;
  /** Told that Temporal is down when a start or a run fails. */
  dependencies?: DependencyReporter;
  /** First pause before a restart; doubles on each failure in a row. @default 500 */
  initialBackoffMs?: number;
  /** Longest pause between restarts. @default 10000 */
  maxBackoffMs?: number;
  /** A run that lasted this long resets the backoff. @default 60000 */
  healthyAfterMs?: number;
}

/**
 * The process's own signal handling (onShutdown) stops the workers, so the Temporal runtime must not
 * also shut them down on a signal. Call before anything touches Temporal.
 */
export function installWorkerRuntime(opts: { sdkMetricsPort?: number; metricsHost?: string } = {}): void {
  const host = opts.metricsHost ?? '0.0.0.0';
  Runtime.install({
    shutdownSignals: [],
    // The SDK's own metrics (temporal_*), Prometheus conventions: seconds, counters end in _total.
    ...(opts.sdkMetricsPort
      ? {
          telemetryOptions: {
            metrics: {
              prometheus: {
                bindAddress: `${host.includes(':') ? `[${host}]` : host}:${opts.sdkMetricsPort}`,
                countersTotalSuffix: true,
                useSecondsForDurations: true,
              },
            },
          },
        }
      : {}),
  });
}

/**
 * Keeps a process's Temporal workers running across Temporal outages. The SDK retries polls while
 * the server is unreachable, but `Worker.create` fails while it is down and `Worker.run()` rejects on
 * a fatal error; either way the supervisor closes the connection and starts over with a fresh
 * NativeConnection and fresh workers, with capped exponential backoff, logging every restart. It
 * returns only after {@link stop}.
 */
export class WorkerSupervisor {
  private stopping = false;
  private workers: Worker[] = [];
  private conn?: NativeConnection;
  private wake?: () => void;
  private loop?: Promise<void>;
  private restarts = 0;
  private markStarted!: () => void;
  private readonly firstStart = new Promise<void>((resolve) => (this.markStarted = resolve));

  constructor(private readonly opts: WorkerSupervisorOptions) {}

  /**
   * Resolves once the workers were first created (they poll from then on), or on {@link stop}: a
   * caller that must not race the first poll (a test stack) awaits it; the process main does not.
   */
  started(): Promise<void> {
    return this.firstStart;
  }

  /** Rejects unless the workers' connection reaches the Temporal frontend (readiness probe). */
  async ping(): Promise<void> {
    if (!this.conn) throw new Error('not connected (workers restarting)');
    await this.conn.workflowService.getSystemInfo({});
  }

  /** Rejects unless every worker was created and is running (not restarting, not stopping). */
  async running(): Promise<void> {
    if (!this.workers.length || this.workers.some((w) => w.getState() !== 'RUNNING'))
      throw new Error('workers not running');
    return Promise.resolve();
  }

  /** Runs the workers until {@link stop}; never rejects. */
  run(): Promise<void> {
    this.loop ??= this.supervise();
    return this.loop;
  }

  /** Gracefully shuts the running workers down (in-flight tasks finish) and ends {@link run}. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.markStarted();
    this.wake?.();
    this.shutdownWorkers();
    await this.loop;
  }

  private async supervise(): Promise<void> {
    const { logger } = this.opts;
    let failures = 0;
    while (!this.stopping) {
      const startedAt = Date.now();
      try {
        this.conn = await this.opts.connect();
        this.workers = await this.opts.createWorkers(this.conn);
        if (this.stopping) break;
        this.markStarted();
        if (this.restarts > 0) logger.warn({ restarts: this.restarts }, 'temporal workers restarted');
        this.opts.dependencies?.report('temporal', true);
        await this.runAll();
        if (this.stopping) break;
        // Nobody asked them to stop: treat it like a failure and start again.
        throw new Error('workers stopped without a shutdown request');
      } catch (err) {
        if (this.stopping) break;
        failures = Date.now() - startedAt >= (this.opts.healthyAfterMs ?? 60_000) ? 1 : failures + 1;
        const delayMs = Math.min(
          (this.opts.initialBackoffMs ?? 500) * 2 ** (failures - 1),
          this.opts.maxBackoffMs ?? 10_000,
        );
        this.restarts++;
        this.opts.dependencies?.report('temporal', false, err);
        logger.error(
          { err, restart: this.restarts, retryInMs: delayMs },
          'temporal workers failed; restarting',
        );
        await this.closeConnection();
        await this.sleep(delayMs);
      }
    }
    await this.closeConnection();
  }

  /** Runs every worker; if one fails, shuts the others down and rethrows once all have stopped. */
  private async runAll(): Promise<void> {
    const results = await Promise.allSettled(
      this.workers.map((w) =>
        w.run().catch((err: unknown) => {
          this.shutdownWorkers();
          throw err;
        }),
      ),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private shutdownWorkers(): void {
    for (const w of this.workers) {
      if (w.getState() === 'RUNNING') w.shutdown();
    }
  }

  private async closeConnection(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    this.workers = [];
    if (this.opts.ownsConnection === false) return;
    await conn?.close().catch(() => undefined);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

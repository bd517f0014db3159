import type { Gauge } from 'prom-client';
import type { Logger } from './logger';
import { errorMessage, readiness, withTimeout, type ReadinessCheck } from './readiness';

/** Options for {@link DependencyMonitor}. */
export interface DependencyMonitorOptions {
  /** `dependency_up{dependency}`: follows every report. */
  gauge: Gauge<'dependency'>;
  logger: Logger;
  /** Milliseconds between background probes of the watched checks. @default 1000 */
  intervalMs?: number;
  /** Milliseconds after which a probe counts as failed. @default 2000 */
  timeoutMs?: number;
}

/** Where client events report a dependency up or down. */
export type DependencyReporter = Pick<DependencyMonitor, 'report'>;

interface State {
  up: boolean;
  since: number;
}

/**
 * Knows which dependencies are up. Probes them in the background and on /readyz, and takes reports
 * from client events (an idle pg client's error, ioredis 'error'/'ready', a worker restart). Only
 * transitions are logged, once per outage however often a client retries; `dependency_up` follows.
 */
export class DependencyMonitor {
  private readonly states = new Map<string, State>();
  private readonly watched: ReadinessCheck[] = [];
  private timer?: NodeJS.Timeout;
  private probing = false;

  constructor(private readonly opts: DependencyMonitorOptions) {}

  /**
   * Records that `name` is up or down; logs on a transition only. `observedAt` is when the evidence
   * was gathered (a probe's start): evidence older than the last transition is stale and ignored, so
   * a probe that started before an outage cannot report it over.
   */
  report(name: string, up: boolean, err?: unknown, observedAt = Date.now()): void {
    const prev = this.states.get(name);
    if (prev && observedAt < prev.since) return;
    this.opts.gauge.set({ dependency: name }, up ? 1 : 0);
    if (prev?.up === up) return;
    const now = Date.now();
    this.states.set(name, { up, since: now });
    if (!up) {
      this.opts.logger.error({ dependency: name, err: errorMessage(err) }, `dependency down: ${name}`);
    } else if (prev) {
      this.opts.logger.warn({ dependency: name, downForMs: now - prev.since }, `dependency up: ${name}`);
    }
  }

  /** True unless the last report said down. */
  isUp(name: string): boolean {
    return this.states.get(name)?.up ?? true;
  }

  /** Adds checks to the background probes; returns them wrapped so that every run reports here. */
  watch(checks: ReadinessCheck[]): ReadinessCheck[] {
    const wrapped = checks.map((c) => ({
      name: c.name,
      check: async () => {
        const startedAt = Date.now();
        try {
          // Bounded here too, so a hung dependency is reported down rather than never reported.
          const out = await withTimeout(c.check(), this.opts.timeoutMs ?? 2000);
          this.report(c.name, true, undefined, startedAt);
          return out;
        } catch (err) {
          this.report(c.name, false, err, startedAt);
          throw err;
        }
      },
    }));
    this.watched.push(...wrapped);
    return wrapped;
  }

  /** Probes every watched check every `intervalMs` until {@link stop}; does not keep the process alive. */
  start(): void {
    if (this.timer) return;
    const tick = (): void => {
      if (this.probing) return;
      this.probing = true;
      void readiness(this.watched, this.opts.timeoutMs ?? 2000).finally(() => (this.probing = false));
    };
    tick();
    this.timer = setInterval(tick, this.opts.intervalMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

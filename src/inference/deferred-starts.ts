import type { Logger } from '../observability/logger';
import type { PendingStartsRepo } from '../requests/pending-starts-repo';
import type { InferenceInput } from '../shared/types';
import type { InputSealer, SealedInput } from './sealed-input';
import type { StartBy, StartMetrics } from './start-metrics';
import type { WorkflowGateway } from './workflow-gateway';

/** Dependencies of {@link DeferredStarts}. */
export interface DeferredStartsDeps {
  workflows: Pick<WorkflowGateway, 'start'>;
  pending: Pick<PendingStartsRepo, 'older' | 'of' | 'clear' | 'clearFinished'>;
  sealer: InputSealer;
  metrics: StartMetrics;
  logger: Logger;
  /** Seconds after acceptance from which the recovery sweep starts a request's workflow. */
  recoverAfterS: number;
  /** Milliseconds between the statements that take started workflows out of the outbox. @default 250 */
  clearIntervalMs?: number;
  /**
   * Longest wait of a start behind accepts still in progress (see {@link DeferredStarts.accepting});
   * 0: every start at once. The API passes WORKFLOW_START_MAX_DEFER_MS (its default is the config's).
   */
  maxDeferMs: number;
}

/** Rows one sweep starts, and how many at once. */
const SWEEP_LIMIT = 200;
const SWEEP_PARALLEL = 8;

/**
 * Starts the workflows of requests acknowledged once their row and sealed workflow input (the
 * outbox, PendingStartsRepo) are in PostgreSQL: the accept answers without waiting for Temporal, and
 * nothing acknowledged is lost.
 *
 * - `startSoon` starts it at once, in the background; the started ids leave the outbox in one
 *   statement per `clearIntervalMs` (not one per request).
 * - The recovery sweep (every `recoverAfterS / 2`) starts what is still pending after `recoverAfterS`:
 *   a failed start (Temporal down), or an API that stopped before starting it. Starting twice is
 *   harmless: the workflow id is the request id and a second start is refused as a duplicate.
 * - `ensureStarted` starts one request now, so that a cancel at any moment has a workflow to cancel.
 * - Accepts come first: while an accept is between its reservation and its answer (`accepting`), the
 *   starts of those already answered wait, for at most `maxDeferMs`. The accepts of a burst share one
 *   event loop with the starts, each of which costs about a quarter of an accept's CPU (gRPC,
 *   protobuf, encryption); started after the burst's answers, they no longer delay its last accepts.
 */
export class DeferredStarts {
  private started: string[] = [];
  /** Accepts in progress (between `accepting()` and its release). */
  private accepts = 0;
  /** Starts waiting for the accepts in progress to end. */
  private waiting: InferenceInput[] = [];
  private deferTimer?: NodeJS.Timeout;
  private readonly inFlight = new Set<Promise<unknown>>();
  private timers: NodeJS.Timeout[] = [];
  private sweeping?: Promise<unknown>;

  constructor(private readonly deps: DeferredStartsDeps) {}

  seal(input: InferenceInput): Promise<SealedInput> {
    return this.deps.sealer.seal(input);
  }

  /**
   * Marks an accept in progress; the returned function ends it (once; later calls do nothing). Starts
   * asked for meanwhile wait until no accept is in progress, or `maxDeferMs`.
   */
  accepting(): () => void {
    this.accepts++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.accepts--;
      if (this.accepts === 0) this.startWaiting();
    };
  }

  /** Starts the workflow of a request whose input is in the outbox, without waiting for it. */
  startSoon(input: InferenceInput): void {
    const { maxDeferMs } = this.deps;
    if (this.accepts === 0 || maxDeferMs <= 0) {
      void this.track(this.startOne(input, 'accept'));
      return;
    }
    this.waiting.push(input);
    this.deferTimer ??= setTimeout(() => this.startWaiting(), maxDeferMs);
  }

  /** Starts every start that waits for accepts, now. */
  private startWaiting(): void {
    clearTimeout(this.deferTimer);
    this.deferTimer = undefined;
    const inputs = this.waiting;
    this.waiting = [];
    for (const input of inputs) void this.track(this.startOne(input, 'accept'));
  }

  /** Starts the workflow of an open request still in the outbox; false if it is not there. */
  async ensureStarted(requestId: string): Promise<boolean> {
    const sealed = await this.deps.pending.of(requestId);
    if (!sealed) return false;
    const ok = await this.startOne(await this.deps.sealer.open(sealed), 'cancel');
    await this.flush();
    return ok;
  }

  /** One recovery sweep: starts what is overdue; returns how many it started. */
  async recoverOnce(): Promise<number> {
    const { pending, sealer, metrics, logger } = this.deps;
    await this.flush();
    const rows = await pending.older(this.deps.recoverAfterS, SWEEP_LIMIT);
    metrics.overdue.set(rows.length);
    let startedCount = 0;
    for (let i = 0; i < rows.length; i += SWEEP_PARALLEL) {
      const oks = await Promise.all(
        rows.slice(i, i + SWEEP_PARALLEL).map(async (r) => {
          const input = await sealer.open(r.input).catch((err: unknown) => {
            logger.error({ err, requestId: r.id }, 'stored workflow input cannot be opened');
            return undefined;
          });
          return input ? this.startOne(input, 'recovery') : false;
        }),
      );
      startedCount += oks.filter(Boolean).length;
    }
    if (rows.length) {
      logger.warn(
        { overdue: rows.length, started: startedCount },
        'recovery sweep started overdue workflows',
      );
    }
    await this.flush();
    const dropped = await pending.clearFinished(this.deps.recoverAfterS);
    if (dropped)
      logger.info({ dropped }, 'stored inputs of requests that finished before their start dropped');
    return startedCount;
  }

  /** Takes the workflows started since the last flush out of the outbox. */
  async flush(): Promise<void> {
    const ids = this.started;
    if (!ids.length) return;
    this.started = [];
    await this.deps.pending.clear(ids).catch((err: unknown) => {
      // Left in place, the recovery sweep finds them started and drops them then.
      this.deps.logger.warn({ err, count: ids.length }, 'stored workflow inputs not dropped');
    });
  }

  /** Runs the flushes and the recovery sweep until {@link stop}. */
  run(): void {
    const every = (ms: number, fn: () => Promise<unknown>): void => {
      const t = setInterval(() => void fn(), ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.deps.clearIntervalMs ?? 250, () => this.track(this.flush()));
    every(Math.max(500, (this.deps.recoverAfterS * 1000) / 2), () => {
      if (this.sweeping) return Promise.resolve();
      this.sweeping = this.track(
        this.recoverOnce().catch((err: unknown) =>
          this.deps.logger.warn({ err }, 'recovery sweep of workflow starts failed; retried next sweep'),
        ),
      ).finally(() => (this.sweeping = undefined));
      return this.sweeping;
    });
  }

  /**
   * Stops the timers, starts what waits for accepts, waits for the starts under way and drops the
   * inputs of those that started.
   */
  async stop(): Promise<void> {
    this.timers.forEach(clearInterval);
    this.timers = [];
    this.startWaiting();
    await Promise.allSettled([...this.inFlight]);
    await this.flush();
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  private async startOne(input: InferenceInput, by: StartBy): Promise<boolean> {
    const { workflows, metrics, logger } = this.deps;
    try {
      await workflows.start(input);
    } catch (err) {
      metrics.starts.inc({ by, outcome: 'failed' });
      logger.warn(
        { err, requestId: input.requestId, by },
        'workflow start failed; the recovery sweep retries it',
      );
      return false;
    }
    this.started.push(input.requestId);
    metrics.starts.inc({ by, outcome: 'started' });
    metrics.delay.observe({ by }, Math.max(0, Date.now() - Date.parse(input.acceptedAt)) / 1000);
    return true;
  }
}

/**
 * The gateway the API's routes use with deferred starts: a cancel that finds no workflow starts the
 * request's workflow from its stored input and cancels that, so a request can be cancelled at any
 * moment, also before its workflow started.
 */
export function cancellingPendingStarts(gateway: WorkflowGateway, starts: DeferredStarts): WorkflowGateway {
  return {
    start: (input) => gateway.start(input),
    find: (id) => gateway.find(id),
    ping: () => gateway.ping(),
    async cancel(id) {
      if (await gateway.cancel(id)) return true;
      // The start may land between the two calls: the second cancel finds it either way.
      await starts.ensureStarted(id);
      return gateway.cancel(id);
    },
  };
}

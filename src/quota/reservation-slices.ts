import type { Logger } from '../observability/logger';
import type { InferenceInput, ModelCallResult, StopReason } from '../shared/types';
import { reservationRefOf, type ExtendResult, type QuotaStore, type ReservationRef } from './quota-store';
import type { SliceMetrics } from './slice-metrics';

/** Dependencies of {@link ReservationSlices}; the GPU worker builds them. */
export interface ReservationSlicesDeps {
  quota: Pick<QuotaStore, 'extend'>;
  /**
   * Raises the request row's reservation (`estimated_tokens`) to at least `tokens`. Called before
   * each extension reaches Redis, so a rebuild of the tenant from PostgreSQL never reserves less
   * than a running generation may use (at worst a refused slice stays reserved until settle).
   */
  persist: (requestId: string, tokens: number) => Promise<void>;
  metrics: SliceMetrics;
  logger: Logger;
  /**
   * How long a stream waits at its reservation for Redis or PostgreSQL to come back when its next
   * slice cannot be asked for (tokens are held meanwhile), before the attempt fails for a retry.
   * @default 15000
   */
  extendPatienceMs?: number;
}

/** Options of {@link ReservationSlices.open}. */
export interface SliceGateOptions {
  /**
   * Completion tokens the request already holds from an earlier attempt, whose output this call
   * continues (continuation on retry): they count against the reservation. @default 0
   */
  alreadyProduced?: number;
}

/** The abort reason of a model call stopped at its reservation: the call ends with what it has. */
export class ReservationCut extends Error {
  override readonly name = 'ReservationCut';
  constructor(readonly stopReason: StopReason) {
    super(`generation stopped at its reservation: ${stopReason}`);
  }
}

/**
 * The abort reason of a model call whose reservation could not be extended because Redis or
 * PostgreSQL failed: the attempt fails (retryable), since no token may be produced unreserved.
 */
export class SliceExtensionError extends Error {
  override readonly name = 'SliceExtensionError';
}

/**
 * Reservation in slices, GPU side. A request reserved its prompt plus a first slice of max_tokens at
 * accept (estimatedTokens); {@link open} gives its model call a {@link SliceGate} that extends the
 * reservation a slice at a time as tokens stream and stops the generation where the tenant's token
 * limits refuse more. Requests that reserved their whole max_tokens get no gate.
 */
export class ReservationSlices {
  constructor(private readonly deps: ReservationSlicesDeps) {}

  /** A gate for one model call of `input`, or undefined when its reservation covers max_tokens. */
  open(input: InferenceInput, signal: AbortSignal, opts: SliceGateOptions = {}): SliceGate | undefined {
    const first = input.estimatedTokens - input.promptTokens;
    if (first <= 0 || first >= input.maxTokens) return undefined;
    return new SliceGate(this.deps, input, signal, first, opts.alreadyProduced ?? 0);
  }
}

/** Tries of one persist or extend call before the extension counts as failed. */
const TRIES = 3;

/** Pause between extension tries while a token waits for its slice and Redis/PostgreSQL fail. */
const RETRY_PAUSE_MS = 500;

async function withTries<T>(op: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await op();
    } catch (err) {
      if (i >= TRIES) throw err;
      await new Promise((r) => setTimeout(r, 50 * i));
    }
  }
}

/**
 * One model call's view of its reservation. Each streamed piece (one generated token) passes
 * {@link wrap}: it goes on to the caller only once the reservation covers it. An extension is asked
 * for a quarter of a slice before the reservation runs out, so a stream normally never waits;
 * pieces that arrive while an extension is still on its way are held, then passed on or dropped.
 * When a token limit refuses the next slice the call is aborted ({@link signal}, reason
 * {@link ReservationCut}) with exactly the reserved tokens passed on: never one token more.
 */
export class SliceGate {
  /** The model call's signal: the caller's, and this gate's cut. */
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly ref: ReservationRef;
  private readonly lead: number;
  /** Tokens of the whole reservation (prompt included), as Redis last said. */
  private reserved: number;
  /** Slices covered so far (the first is reserved at accept). */
  private slices = 1;
  /** Tokens generated, and tokens passed on (both include `alreadyProduced`). */
  private produced: number;
  private forwarded: number;
  private held: string[] = [];
  private forward?: (piece: string) => void;
  private pending?: Promise<unknown>;
  /** Set after a partial or refused extension: ask again only once a token waits for it. */
  private waitForNeed = false;
  private stop?: StopReason;
  private closed = false;
  /** When the current streak of failed extensions began. */
  private failingSince?: number;

  constructor(
    private readonly deps: ReservationSlicesDeps,
    private readonly input: InferenceInput,
    signal: AbortSignal,
    private readonly slice: number,
    alreadyProduced: number,
  ) {
    this.ref = reservationRefOf(input);
    this.reserved = input.estimatedTokens;
    this.produced = this.forwarded = alreadyProduced;
    this.lead = Math.max(1, Math.ceil(slice / 4));
    this.signal = AbortSignal.any([signal, this.controller.signal]);
  }

  /** Completion tokens the reservation covers now. */
  private get budget(): number {
    return Math.min(this.input.maxTokens, this.reserved - this.input.promptTokens);
  }

  /** Completion tokens the reservation covers now: a partial output is never charged more. */
  get covered(): number {
    return this.budget;
  }

  /** Why the call was stopped at its reservation, if it was. */
  get stopReason(): StopReason | undefined {
    return this.stop;
  }

  /** Wraps the call's `onText`: each piece is passed on once the reservation covers it. */
  wrap(forward: (piece: string) => void): (piece: string) => void {
    this.forward = forward;
    return (piece) => {
      if (this.stop || this.controller.signal.aborted) return;
      this.produced++;
      this.held.push(piece);
      this.drain();
      this.maybeExtend();
    };
  }

  private drain(): void {
    if (this.closed) return;
    while (this.held.length && this.forwarded < this.budget) {
      this.forwarded++;
      this.forward?.(this.held.shift()!);
    }
  }

  private maybeExtend(): void {
    if (this.closed || this.pending || this.stop || this.controller.signal.aborted) return;
    if (this.budget >= this.input.maxTokens) return;
    const needed = this.held.length > 0;
    if (!needed && (this.waitForNeed || this.budget - this.produced > this.lead)) return;
    this.pending = this.extend().finally(() => {
      this.pending = undefined;
      this.drain();
      this.maybeExtend();
    });
  }

  /** Asks Redis for the next slice (or `target` tokens); never throws. */
  private async extend(target?: number): Promise<ExtendResult | undefined> {
    const k = this.slices + 1;
    const want = target ?? this.input.promptTokens + Math.min(this.input.maxTokens, k * this.slice);
    const { metrics, logger } = this.deps;
    const model = this.input.model;
    let r: ExtendResult;
    try {
      await withTries(() => this.deps.persist(this.input.requestId, want));
      r = await withTries(() => this.deps.quota.extend(this.ref, k, want));
    } catch (err) {
      metrics.extensions.inc({ model, outcome: 'error' });
      if (this.failingSince === undefined) {
        this.failingSince = Date.now();
        logger.warn({ err, requestId: this.input.requestId, slice: k }, 'reservation slice extension failed');
      }
      // Retried with the next token; while a token waits for it, every RETRY_PAUSE_MS up to the
      // patience, then the attempt fails (retryable) rather than produce a token not reserved.
      if (this.held.length && target === undefined) {
        if (Date.now() - this.failingSince >= (this.deps.extendPatienceMs ?? 15_000)) {
          this.controller.abort(
            new SliceExtensionError(`could not extend the reservation: ${(err as Error).message}`),
          );
        } else {
          await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
        }
      }
      return undefined;
    }
    this.failingSince = undefined;
    if (target !== undefined) {
      metrics.extensions.inc({ model, outcome: 'topup' });
    } else {
      metrics.extensions.inc({
        model,
        outcome: r.outcome === 'settled' || r.outcome === 'missing' ? 'closed' : r.outcome,
      });
    }
    if (r.outcome === 'granted') {
      this.reserved = Math.max(this.reserved, r.reserved);
      this.slices = Math.max(k, Math.floor(this.budget / this.slice));
      this.waitForNeed = false;
    } else if (r.outcome === 'partial') {
      this.reserved = Math.max(this.reserved, r.reserved);
      this.waitForNeed = true;
    } else if (r.outcome === 'refused') {
      this.reserved = Math.max(this.reserved, r.reservedByRequest);
      this.waitForNeed = true;
      // The reservation may have grown meanwhile (a rebuild): pass on what it covers first.
      this.drain();
      if (this.held.length && target === undefined) this.cut('quota_exhausted', r.limit);
    } else if (target === undefined) {
      this.cut('reservation_closed', r.outcome === 'settled' ? r.state : 'missing');
    }
    return r;
  }

  private cut(reason: StopReason, detail: string): void {
    this.stop = reason;
    this.held = [];
    const { requestId, tenantId, model } = this.input;
    if (reason === 'quota_exhausted') this.deps.metrics.refusals.inc({ model, limit: detail });
    this.deps.logger.info(
      {
        requestId,
        tenant: tenantId,
        model,
        reason,
        limit: detail,
        completionTokens: this.forwarded,
        maxTokens: this.input.maxTokens,
        reserved: this.reserved,
      },
      reason === 'quota_exhausted'
        ? 'generation stopped at its reservation: the tenant token limit refused the next slice'
        : 'generation stopped: its reservation is no longer open',
    );
    this.controller.abort(new ReservationCut(reason));
  }

  /** The result of a call stopped at its reservation: `output` is what was passed on. */
  private cutResult(output: string): ModelCallResult {
    const prompt = this.input.promptTokens;
    return {
      text: output,
      finishReason: 'length',
      stopReason: this.stop,
      usageReported: false,
      usage: {
        prompt_tokens: prompt,
        completion_tokens: this.forwarded,
        total_tokens: prompt + this.forwarded,
      },
    };
  }

  /**
   * The call's result once the adapter returned (`output()`: the text passed on so far): waits for
   * an extension on its way, which passes on the tokens it covers; a call that
   * ended while its last tokens waited for a refused slice ends stopped. A bill above the
   * reservation (a model whose stream chunks carry several tokens) is reserved before it is
   * committed; what a limit refuses of it is counted as overrun.
   */
  async finish(result: ModelCallResult, output: () => string): Promise<ModelCallResult> {
    while (this.pending) await this.pending;
    if (this.controller.signal.aborted && !this.stop) throw this.controller.signal.reason as Error;
    if (this.stop) return this.cutResult(output());
    const billed = result.usage.total_tokens;
    if (billed > this.reserved) {
      const r = await this.extend(billed);
      const covered =
        r?.outcome === 'granted' || r?.outcome === 'partial'
          ? r.reserved
          : r?.outcome === 'refused'
            ? r.reservedByRequest
            : 0;
      if (covered < billed) {
        this.deps.metrics.overrunTokens.inc(
          { model: this.input.model },
          billed - Math.max(covered, this.reserved),
        );
        this.deps.logger.warn(
          { requestId: this.input.requestId, billed, reserved: Math.max(covered, this.reserved) },
          'model billed more tokens than its reservation could cover',
        );
      }
    }
    return result;
  }

  /**
   * The call is over (returned, failed or cancelled): nothing more is passed on, and no extension
   * is asked for (one on its way still lands in Redis, and is settled with the request).
   */
  close(): void {
    this.closed = true;
    this.held = [];
  }

  /** The result of a call that ended with an error: the cut result if this gate stopped it. */
  stoppedResult(output: string): ModelCallResult | undefined {
    return this.stop ? this.cutResult(output) : undefined;
  }
}

/** `onText` through the gate when there is one (see {@link SliceGate.wrap}), else as it is. */
export function gated(gate: SliceGate | undefined, onText: (piece: string) => void): (piece: string) => void {
  return gate ? gate.wrap(onText) : onText;
}

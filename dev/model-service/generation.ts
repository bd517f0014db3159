import type { Request, Response } from 'express';
import type { Logger } from '../../src/observability/logger';
import type { Tokenizer } from '../../src/tokenizer/tokenizer';
import { ClientGoneError, InjectedFaultError, QueueFullError, ShuttingDownError } from './errors';
import type { Fault } from './fault-schema';
import { parseFaultHeader, type FaultInjector } from './faults';
import { InFlight } from './in-flight';
import type { Slots } from './slots';
import { countAnswer, type ServiceStats } from './stats';
import { generateTokens, stopAfter } from './text-generator';
import { sleep, sleepUntil, untilAborted } from './timers';

/** Options for {@link GenerationEngine}. */
export interface GenerationEngineOptions {
  tokenizer: Tokenizer;
  slots: Slots;
  faults: FaultInjector;
  stats: ServiceStats;
  /** Latency per prompt token, ms. */
  prefillMsPerToken: number;
  /** Latency per generated token, ms. */
  decodeMsPerToken: number;
  /** Whether the `X-Fault` header is honoured. */
  headerFaults: boolean;
  logger?: Logger;
}

/** What to generate. */
export interface GenerationJob {
  model: string;
  /** What the text depends on and where `[[stop:N]]` is looked for (chat: the serialized messages). */
  promptText: string;
  /** Counted by the route with the tokenizer, as reported in usage. */
  promptTokens: number;
  maxTokens: number;
  temperature?: number;
  seed?: number;
  /**
   * Tokens of the answer that already exist (a continuation, see resumeChat / resumeCompletion):
   * generation goes on after them, and `[[stop:N]]` counts them. @default 0
   */
  skip?: number;
}

/** The outcome of a generation that ran to its end. */
export interface GenerationResult {
  text: string;
  completionTokens: number;
  finishReason: 'length' | 'stop';
}

/** Where a generation writes; each protocol and mode (JSON or SSE) has its own. */
export interface GenerationSink {
  /** Once a slot is held and prefill is done, right before the first token. */
  start(): void;
  /** Each generated token, decoded, as it is produced. */
  token(piece: string): void;
  /** The final answer; `status` 200 is already counted. */
  finish(result: GenerationResult): void;
}

/**
 * Runs generations like a GPU server: a fault if one is due, a slot (FIFO queue), prefill latency
 * per prompt token, then decode latency per output token, token by token. A client that goes away
 * aborts its generation and frees the slot at once.
 */
export class GenerationEngine {
  private readonly inFlight: InFlight;
  private closing = false;

  constructor(private readonly o: GenerationEngineOptions) {
    this.inFlight = new InFlight(o.stats);
  }

  /**
   * Serves one request. Rejects with a ServiceError for the error middleware (faults, full queue,
   * shutdown); resolves with nothing written when the client left or the connection was dropped.
   */
  async run(req: Request, res: Response, job: GenerationJob, sink: GenerationSink): Promise<void> {
    if (this.closing) throw new ShuttingDownError();
    const fault = this.pickFault(req, job.model);
    if (fault?.kind === 'status') throw new InjectedFaultError(fault.status, fault.retryAfterS);
    if (fault?.kind === 'drop') {
      this.o.stats.dropped++;
      req.socket.destroy();
      return;
    }

    const entry = this.inFlight.enter(res);
    try {
      if (fault?.kind === 'hang') await untilAborted(entry.signal);
      if (fault?.kind === 'spike') await sleep(fault.ms, entry.signal);
      if (this.o.slots.full) throw new QueueFullError(this.o.faults.rates.retryAfterS);
      const release = await this.o.slots.acquire(entry.signal);
      try {
        await this.generate(
          job,
          sink,
          entry.signal,
          res,
          fault?.kind === 'cut' ? fault.afterTokens : undefined,
        );
      } finally {
        release();
      }
    } catch (err) {
      if (err instanceof ClientGoneError) {
        this.o.stats.aborted++;
        return;
      }
      throw err;
    } finally {
      entry.leave();
    }
  }

  /** The fault due for this request (header, script, then rates), logged when there is one. */
  private pickFault(req: Request, model: string): Fault | undefined {
    const header = req.header('x-fault');
    const fromHeader =
      this.o.headerFaults && header ? parseFaultHeader(header, this.o.faults.rates.retryAfterS) : undefined;
    const picked = this.o.faults.pick(model, fromHeader);
    if (!picked) return undefined;
    const { fault, source } = picked;
    const status = fault.kind === 'status' ? fault.status : undefined;
    this.o.logger?.info({ kind: fault.kind, status, model, source }, 'fault injected');
    return fault;
  }

  private async generate(
    job: GenerationJob,
    sink: GenerationSink,
    signal: AbortSignal,
    res: Response,
    cutAfter?: number,
  ): Promise<void> {
    const { tokenizer, stats } = this.o;
    stats.prompt_tokens_total += job.promptTokens;
    const skip = job.skip ?? 0;
    const marker = stopAfter(job.promptText);
    const stop = marker === undefined ? undefined : Math.max(0, marker - skip);
    const count = stop === undefined ? job.maxTokens : Math.min(stop, job.maxTokens);
    const input = { model: job.model, prompt: job.promptText, seed: job.seed, temperature: job.temperature };
    const tokens = generateTokens(tokenizer, input, skip + count).slice(skip);
    // Every token is due at a fixed offset from the start, so timer lateness does not accumulate.
    let due = performance.now() + job.promptTokens * this.o.prefillMsPerToken;
    await sleepUntil(due, signal);
    sink.start();
    for (const [i, token] of tokens.entries()) {
      if (i === cutAfter) {
        // The server dies mid-answer: the connection ends without a last chunk or an error.
        stats.dropped++;
        res.socket?.destroy();
        return;
      }
      due += this.o.decodeMsPerToken;
      await sleepUntil(due, signal);
      signal.throwIfAborted();
      stats.completion_tokens_total++;
      sink.token(tokenizer.decode([token]));
    }
    const finishReason = stop !== undefined && stop < job.maxTokens ? 'stop' : 'length';
    this.o.logger?.debug(
      { model: job.model, prompt_tokens: job.promptTokens, completion_tokens: tokens.length, finishReason },
      'generation done',
    );
    countAnswer(stats, res, 200);
    sink.finish({ text: tokenizer.decode(tokens), completionTokens: tokens.length, finishReason });
  }

  /**
   * Refuses new requests, waits up to `graceMs` for those in flight, then aborts the rest (they are
   * answered 503, or their stream ends with an error event).
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    if (await this.inFlight.whenIdle(graceMs)) return;
    this.inFlight.abortAll(new ShuttingDownError());
    await this.inFlight.whenIdle();
  }
}

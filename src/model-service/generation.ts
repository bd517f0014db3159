import type { Request, Response } from 'express';
import type { Tokenizer } from '../tokenizer/tokenizer';
import type { FaultInjector } from './faults';
import { sendError } from './openai-errors';
import { QueueFullError, type Slots } from './slots';
import { generateTokens, stopAfter } from './text-generator';

/** Counters exposed at GET /_stats. */
export interface ServiceStats {
  requests_total: number;
  by_status: Record<string, number>;
  prompt_tokens_total: number;
  completion_tokens_total: number;
  in_flight: number;
  aborted: number;
}

/** Shared machinery of every endpoint. */
export interface Engine {
  tokenizer: Tokenizer;
  slots: Slots;
  faults: FaultInjector;
  stats: ServiceStats;
  prefillMsPerToken: number;
  decodeMsPerToken: number;
  retryAfterS: number;
  onFault: (fault: string, model: string) => void;
}

/** What to generate; `emit` writes each decoded piece (streaming) and `finish` the final answer. */
export interface GenerationJob {
  model: string;
  promptText: string;
  promptTokens: number;
  maxTokens: number;
  temperature?: number;
  seed?: number;
  emit?: (piece: string) => void;
  finish: (result: { text: string; completionTokens: number; finishReason: 'length' | 'stop' }) => void;
  /** Called before the first token when streaming, so headers go out only once a slot is held. */
  start?: () => void;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('aborted'));
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new Error('aborted'));
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Runs one generation like a GPU server: optional fault, wait for a slot, prefill latency per prompt
 * token, then decode latency per output token. A client that goes away aborts it and frees the slot.
 */
export async function runGeneration(
  engine: Engine,
  req: Request,
  res: Response,
  job: GenerationJob,
): Promise<void> {
  const { stats } = engine;
  stats.requests_total++;
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  const count = (status: number): void => {
    stats.by_status[status] = (stats.by_status[status] ?? 0) + 1;
  };

  const fault = engine.faults.pick(job.model, req.header('x-fault'));
  if (fault) engine.onFault(fault.kind === 'status' ? `status:${fault.status}` : fault.kind, job.model);
  if (fault?.kind === 'status') {
    count(fault.status);
    return sendError(res, fault.status, `injected fault: HTTP ${fault.status}`, {
      type: fault.status === 429 ? 'rate_limit_error' : undefined,
      retryAfterS: [429, 503].includes(fault.status) ? fault.retryAfterS : undefined,
    });
  }
  if (fault?.kind === 'drop') {
    count(0);
    req.socket.destroy();
    return;
  }
  if (fault?.kind === 'hang') {
    // Never answer; the connection stays open until the client gives up.
    stats.in_flight++;
    await new Promise<void>((resolve) =>
      abort.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    stats.in_flight--;
    stats.aborted++;
    return;
  }

  stats.in_flight++;
  let release: (() => void) | undefined;
  try {
    if (fault?.kind === 'spike') await sleep(fault.ms, abort.signal);
    try {
      release = await engine.slots.acquire(abort.signal);
    } catch (err) {
      if (err instanceof QueueFullError) {
        count(503);
        return sendError(res, 503, 'server overloaded: all slots busy', { retryAfterS: engine.retryAfterS });
      }
      throw err;
    }
    stats.prompt_tokens_total += job.promptTokens;
    await sleep(job.promptTokens * engine.prefillMsPerToken, abort.signal);
    const stop = stopAfter(job.promptText);
    const n = Math.min(job.maxTokens, stop ?? job.maxTokens);
    const tokens = generateTokens(
      engine.tokenizer,
      { model: job.model, prompt: job.promptText, seed: job.seed, temperature: job.temperature },
      n,
    );
    job.start?.();
    const t0 = Date.now();
    for (let i = 0; i < tokens.length; i++) {
      // Sleep to the token's due time, so sub-millisecond decode times add up correctly.
      const due = t0 + (i + 1) * engine.decodeMsPerToken;
      const wait = due - Date.now();
      if (wait >= 1) await sleep(wait, abort.signal);
      if (abort.signal.aborted) throw new Error('aborted');
      stats.completion_tokens_total++;
      job.emit?.(engine.tokenizer.decode([tokens[i]!]));
    }
    count(200);
    job.finish({
      text: engine.tokenizer.decode(tokens),
      completionTokens: tokens.length,
      finishReason: stop !== undefined && stop < job.maxTokens ? 'stop' : 'length',
    });
  } catch (err) {
    if (abort.signal.aborted) {
      stats.aborted++;
      return;
    }
    throw err;
  } finally {
    release?.();
    stats.in_flight--;
  }
}

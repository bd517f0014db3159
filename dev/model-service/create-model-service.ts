import express, { type Express } from 'express';
import type { Logger } from '../../src/observability/logger';
import { getTokenizer, type TokenizerFamily } from '../../src/tokenizer/tokenizer';
import { adminRoutes } from './admin-routes';
import { errorMiddleware, notFound } from './error-middleware';
import type { FaultRates } from './fault-schema';
import { FaultInjector } from './faults';
import { GenerationEngine } from './generation';
import { kserveRoutes } from './kserve-routes';
import { openAiRoutes } from './openai-routes';
import { Slots } from './slots';
import { createStats, type ServiceStats } from './stats';

/** Options for {@link createModelService}. */
export interface ModelServiceOptions {
  /** Generations that run at once, like a GPU's batch slots. @default 8 */
  slots?: number;
  /** Requests that may wait for a slot (FIFO); one more is answered 503 with Retry-After. @default 256 */
  maxQueue?: number;
  /** Latency per prompt token (prefill), ms. @default 0.05 */
  prefillMsPerToken?: number;
  /** Latency per generated token (decode), ms. @default 2 */
  decodeMsPerToken?: number;
  /** Model names served. @default ['ref-small', 'ref-large'] */
  models?: readonly string[];
  /** Context window of every model: prompt tokens + max_tokens may not exceed it. @default 8192 */
  contextLength?: number;
  /** max_tokens of a request that gives none. @default 16 */
  defaultMaxTokens?: number;
  /** Tokenizer of every count and of the generated text. @default 'cl100k_base' */
  tokenizer?: TokenizerFamily;
  /**
   * Random fault rates at start; `retryAfterS` is also the Retry-After of a full queue.
   * @default no faults, retryAfterS 1, spikeMs 2000
   */
  faults?: Partial<FaultRates>;
  /**
   * Enables `GET/PUT/DELETE /_faults` (with `adminToken`) and the `X-Fault` request header (which
   * faults only the request that carries it). @default true
   */
  faultApi?: boolean;
  /**
   * Bearer token `/_faults` requires (`Authorization: Bearer <token>`); required while `faultApi` is
   * on: without it the service is not built. @default none
   */
  adminToken?: string;
  /** Random source of the fault rates, in [0, 1); tests pass a fixed sequence. @default Math.random */
  random?: () => number;
  /** Largest request body. @default '10mb' */
  bodyLimit?: string;
  /** Logs each fault served, fault changes, and unexpected errors. @default no logging */
  logger?: Logger;
}

/** Options for {@link ModelService.close}. */
export interface ModelServiceCloseOptions {
  /** How long requests in flight may run on before they are aborted (503). @default 0 */
  graceMs?: number;
}

/** The reference model service, built without listening. */
export interface ModelService {
  /** The express app; listen with `app.listen(port)`. */
  app: Express;
  /** The generation slots (`size`, `inUse`, `queued`, `peak`). */
  slots: Slots;
  /** The fault injector behind `/_faults`. */
  faults: FaultInjector;
  /** The live counters behind `/_stats`. */
  stats: ServiceStats;
  /**
   * Stops taking requests (new ones get 503), lets those in flight finish for `graceMs`, aborts the
   * rest and resolves once none is left. Closing the HTTP server is the caller's job.
   */
  close(opts?: ModelServiceCloseOptions): Promise<void>;
}

/**
 * An OpenAI-compatible (and KServe v2) server that behaves like a GPU inference server: a fixed
 * number of slots, per-token latency, real token counts, deterministic text and injectable faults.
 */
export function createModelService(opts: ModelServiceOptions = {}): ModelService {
  const models = opts.models ?? ['ref-small', 'ref-large'];
  const faultApi = opts.faultApi ?? true;
  const tokenizer = getTokenizer(opts.tokenizer ?? 'cl100k_base');
  const slots = new Slots(opts.slots ?? 8, opts.maxQueue ?? 256);
  const faults = new FaultInjector(opts.faults, opts.random);
  const stats = createStats();
  const engine = new GenerationEngine({
    tokenizer,
    slots,
    faults,
    stats,
    prefillMsPerToken: opts.prefillMsPerToken ?? 0.05,
    decodeMsPerToken: opts.decodeMsPerToken ?? 2,
    headerFaults: faultApi,
    logger: opts.logger,
  });
  const routeOptions = {
    engine,
    tokenizer,
    stats,
    models,
    contextLength: opts.contextLength ?? 8192,
    defaultMaxTokens: opts.defaultMaxTokens ?? 16,
    bodyLimit: opts.bodyLimit ?? '10mb',
  };

  const app = express();
  app.disable('x-powered-by');
  app.use(adminRoutes({ slots, stats, faults, faultApi, adminToken: opts.adminToken, logger: opts.logger }));
  app.use(openAiRoutes(routeOptions));
  app.use(kserveRoutes(routeOptions));
  app.use(notFound);
  app.use(errorMiddleware(stats, opts.logger));

  return {
    app,
    slots,
    faults,
    stats,
    close: ({ graceMs = 0 } = {}) => engine.close(graceMs),
  };
}

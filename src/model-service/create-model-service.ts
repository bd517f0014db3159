import express, { type Express } from 'express';
import type { Logger } from '../observability/logger';
import { getTokenizer, type TokenizerFamily } from '../tokenizer/tokenizer';
import { FaultInjector, NO_FAULTS, faultsBodySchema, type FaultRates } from './faults';
import type { Engine, ServiceStats } from './generation';
import { kserveRoutes } from './kserve-routes';
import { sendError } from './openai-errors';
import { openAiRoutes } from './openai-routes';
import { Slots } from './slots';

/** Options for {@link createModelService}. */
export interface ModelServiceOptions {
  /** Concurrent generations (like a GPU's batch slots). @default 8 */
  slots?: number;
  /** Requests waiting for a slot before the service answers 503. @default 256 */
  maxQueue?: number;
  /** Prefill latency per prompt token, ms. @default 0.05 */
  prefillMsPerToken?: number;
  /** Decode latency per generated token, ms. @default 2 */
  decodeMsPerToken?: number;
  /** Model names served. @default ['ref-small', 'ref-large'] */
  models?: string[];
  /** Context window (prompt + max_tokens). @default 8192 */
  contextLength?: number;
  /** max_tokens when a request gives none. @default 16 */
  defaultMaxTokens?: number;
  /** Tokenizer used for every count. @default cl100k_base */
  tokenizer?: TokenizerFamily;
  /** Random fault rates. @default none */
  faults?: Partial<FaultRates>;
  /** Enables PUT/GET/DELETE /_faults. @default true */
  faultApi?: boolean;
  /** Random source for fault rates (tests). @default Math.random */
  random?: () => number;
  logger?: Logger;
}

/** The reference model service, built without listening. */
export interface ModelService {
  app: Express;
  slots: Slots;
  faults: FaultInjector;
  stats: ServiceStats;
  /** Frees nothing it holds beyond its HTTP server, which the caller closes. */
  close(): Promise<void>;
}

/**
 * An OpenAI-compatible (and KServe v2) server that behaves like a GPU inference server: limited
 * slots, per-token latency, real token counts, deterministic text and injectable faults.
 */
export function createModelService(opts: ModelServiceOptions = {}): ModelService {
  const models = opts.models ?? ['ref-small', 'ref-large'];
  const slots = new Slots(opts.slots ?? 8, opts.maxQueue ?? 256);
  const faults = new FaultInjector({ ...NO_FAULTS, ...opts.faults }, opts.random);
  const stats: ServiceStats = {
    requests_total: 0,
    by_status: {},
    prompt_tokens_total: 0,
    completion_tokens_total: 0,
    in_flight: 0,
    aborted: 0,
  };
  const engine: Engine = {
    tokenizer: getTokenizer(opts.tokenizer ?? 'cl100k_base'),
    slots,
    faults,
    stats,
    prefillMsPerToken: opts.prefillMsPerToken ?? 0.05,
    decodeMsPerToken: opts.decodeMsPerToken ?? 2,
    retryAfterS: opts.faults?.retryAfterS ?? 1,
    onFault: (fault, model) => opts.logger?.info({ fault, model }, 'fault injected'),
  };
  const routeOpts = {
    engine,
    models,
    contextLength: opts.contextLength ?? 8192,
    defaultMaxTokens: opts.defaultMaxTokens ?? 16,
  };

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '10mb' }));
  app.get(
    '/health',
    (_req, res) =>
      void res.json({ status: 'ok', slots: slots.size, busy: slots.inUse, queued: slots.queued }),
  );
  app.get('/_stats', (_req, res) => void res.json(stats));
  if (opts.faultApi ?? true) {
    app.get('/_faults', (_req, res) => void res.json(faults.state()));
    app.put('/_faults', (req, res) => {
      const parsed = faultsBodySchema.safeParse(req.body);
      if (!parsed.success)
        return sendError(
          res,
          400,
          parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
        );
      faults.configure(parsed.data);
      opts.logger?.info({ faults: parsed.data }, 'faults configured');
      res.json(faults.state());
    });
    app.delete('/_faults', (_req, res) => {
      faults.clear();
      res.json(faults.state());
    });
  }
  app.use(openAiRoutes(routeOpts));
  app.use(kserveRoutes(routeOpts));
  app.use((_req, res) => sendError(res, 404, 'not found'));
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const e = err as { type?: string; message?: string };
    if (e.type === 'entity.parse.failed') return sendError(res, 400, 'request body is not valid JSON');
    opts.logger?.error({ err }, 'model service error');
    sendError(res, 500, 'internal error');
  });
  return { app, slots, faults, stats, close: () => Promise.resolve() };
}

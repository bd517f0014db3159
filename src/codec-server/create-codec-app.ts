import { timingSafeEqual } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { PayloadCodec } from '@temporalio/common';
import { payloadFromJson, payloadToJson, type JsonPayload } from '../codec/json-payload';

/** Options for {@link createCodecApp}. */
export interface CodecAppOptions {
  /** The codec the workers use; an identity codec when undefined (nothing to decode). */
  codec?: PayloadCodec;
  /**
   * Bearer token every /encode and /decode must carry, whatever its `Origin`: a non-browser client
   * sets any Origin it likes, so an origin proves nothing (issue 26). A browser (the Web UI) reaches
   * the codec server through a proxy that authenticates its user and adds the token
   * (docs/operations.md).
   */
  token: string;
  /** Browser origins allowed by CORS (the Temporal Web UI's). */
  corsOrigins: readonly string[];
  /** The namespace whose payloads these keys protect; a request for another one is refused. */
  namespace: string;
  /** Told of each request refused for no or a wrong token (the server logs it). @default nothing */
  onRefused?: (req: Request) => void;
  /** Largest request body. @default 4mb (Temporal's default payload size limit is 2 MiB) */
  maxBodyBytes?: number;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

const fail = (res: Response, status: number, type: string, message: string): void =>
  void res.status(status).json({ error: { type, message } });

/**
 * Temporal's remote codec protocol (docs.temporal.io "codec server"): POST /encode and /decode with
 * `{ payloads: [...] }`, for the Web UI (`--ui-codec-endpoint`) and the CLI (`--codec-endpoint`,
 * `--codec-auth`). Built without listening, so tests drive it in-process.
 */
export function createCodecApp(opts: CodecAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  const origins = new Set(opts.corsOrigins);

  app.use((req: Request, res: Response, next: NextFunction) => {
    const origin = req.get('origin');
    if (origin && origins.has(origin)) {
      res.set({
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'Content-Type, X-Namespace, Authorization',
        'Access-Control-Allow-Credentials': 'true',
        'Access-Control-Max-Age': '600',
        Vary: 'Origin',
      });
    }
    if (req.method === 'OPTIONS') {
      res.status(origin && origins.has(origin) ? 204 : 403).end();
      return;
    }
    next();
  });

  // Liveness for `npm start` and probes; says nothing about keys.
  app.get('/healthz', (_req: Request, res: Response) => void res.json({ ok: true }));

  app.use((req: Request, res: Response, next: NextFunction) => {
    const auth = req.get('authorization') ?? '';
    const bearer = /^Bearer (.+)$/i.exec(auth)?.[1];
    if (bearer && sameSecret(bearer, opts.token)) {
      next();
      return;
    }
    opts.onRefused?.(req);
    res.set('WWW-Authenticate', 'Bearer');
    fail(res, 401, 'authentication_error', 'a valid Authorization: Bearer <CODEC_SERVER_TOKEN> is required');
  });

  app.use(express.json({ limit: opts.maxBodyBytes ?? '4mb' }));

  const route = (op: 'encode' | 'decode') => async (req: Request, res: Response) => {
    const namespace = req.get('x-namespace');
    if (namespace && namespace !== opts.namespace) {
      fail(res, 403, 'permission_error', `this codec server serves namespace ${opts.namespace} only`);
      return;
    }
    const payloads = (req.body as { payloads?: unknown } | undefined)?.payloads;
    if (!Array.isArray(payloads)) {
      fail(res, 400, 'invalid_request_error', 'body must be { "payloads": [...] }');
      return;
    }
    const input = payloads.map((p) => payloadFromJson(p as Partial<JsonPayload>));
    try {
      const out = opts.codec ? await opts.codec[op](input) : input;
      res.json({ payloads: out.map(payloadToJson) });
    } catch (err) {
      fail(res, 400, 'invalid_request_error', (err as Error).message);
    }
  };
  app.post('/encode', route('encode'));
  app.post('/decode', route('decode'));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number }).status ?? 500;
    fail(res, status, status < 500 ? 'invalid_request_error' : 'internal_error', 'bad request');
  });
  return app;
}

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createModelService,
  type ModelService,
  type ModelServiceOptions,
} from '../../../dev/model-service/create-model-service';
import { FAULTS_AUTH, TEST_MODEL_ADMIN_TOKEN } from '../../support/model-server';

/** A model service listening on a random local port. */
export interface Running {
  svc: ModelService;
  url: string;
  post(
    path: string,
    body: unknown,
    init?: { headers?: Record<string, string>; signal?: AbortSignal },
  ): Promise<Response>;
  get(path: string): Promise<any>;
  stats(): Promise<any>;
  stop(): Promise<void>;
}

/** Starts the service fast by default (no prefill, 0.2 ms per token); `opts` override. */
export async function startService(opts: ModelServiceOptions = {}): Promise<Running> {
  const svc = createModelService({
    prefillMsPerToken: 0,
    decodeMsPerToken: 0.2,
    adminToken: TEST_MODEL_ADMIN_TOKEN,
    ...opts,
  });
  const server: Server = svc.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // With the fault API's token: `get('/_faults')` reads its state.
  const get = async (path: string) => (await fetch(`${url}${path}`, { headers: FAULTS_AUTH })).json();
  return {
    svc,
    url,
    post: (path, body, init = {}) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...init.headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
        signal: init.signal,
      }),
    get,
    stats: () => get('/_stats'),
    stop: async () => {
      await svc.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** Polls `check` every few ms until it returns true; fails after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Splits a whole SSE body into its `data:` payloads, checking the `data: ...\n\n` framing. */
export function sseData(text: string): string[] {
  expect(text.endsWith('\n\n')).toBe(true);
  return text
    .slice(0, -2)
    .split('\n\n')
    .map((event) => {
      expect(event.startsWith('data: ')).toBe(true);
      return event.slice('data: '.length);
    });
}

/** Yields SSE `data:` payloads as they arrive. */
export async function* sseStream(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      yield buf.slice(0, i).replace(/^data: /, '');
      buf = buf.slice(i + 2);
    }
  }
}

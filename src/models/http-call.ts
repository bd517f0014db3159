import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { ErrorType } from '../shared/error-types';
import { ModelCallError, errorFromStatus } from './model-call-error';

/** Options of a model-service call ({@link streamJson}). */
export interface PostJsonOptions {
  headers: Record<string, string>;
  signal: AbortSignal;
  /** Milliseconds before the call is abandoned as a timeout. */
  timeoutMs: number;
}

/**
 * Kept-alive connections to the model services, one pool per protocol and process (as fetch kept
 * them). The call is on node:http rather than fetch: fetch hands every chunk of the token stream
 * through WHATWG streams, which cost the GPU worker more CPU than the rest of the model call.
 */
const agents = {
  'http:': new HttpAgent({ keepAlive: true }),
  'https:': new HttpsAgent({ keepAlive: true }),
} as const;

/** POSTs `body` and resolves with the response once its headers arrive. */
function post(
  url: URL,
  body: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const https = url.protocol === 'https:';
  const send = https ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'POST',
        agent: https ? agents['https:'] : agents['http:'],
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...headers,
        },
        signal,
      },
      resolve,
    );
    // Every error is handled, also one after the promise settled: an unhandled 'error' ends the process.
    req.on('error', reject);
    req.end(body);
  });
}

/** The whole body as text (an error answer's), or '' if it cannot be read. */
async function readText(res: IncomingMessage): Promise<string> {
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  } catch {
    return '';
  }
}

/**
 * POSTs JSON and returns the response once its status is OK; a non-OK answer becomes a
 * ModelCallError (4xx are not retryable, 429/5xx are, with their Retry-After).
 */
async function postJson(
  url: URL,
  body: unknown,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const res = await post(url, JSON.stringify(body), headers, signal);
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 299) {
    const text = await readText(res);
    const retryAfter = res.headers['retry-after'];
    throw errorFromStatus(
      status,
      `model service answered ${status}: ${extractMessage(text)}`,
      typeof retryAfter === 'string' ? retryAfter : null,
    );
  }
  return res;
}

/** Turns a failed call or stream into a ModelCallError (or rethrows an abort by the caller). */
export function classifyCallError(
  err: unknown,
  url: string,
  callerSignal: AbortSignal,
  timeout?: AbortSignal,
): Error {
  if (err instanceof ModelCallError) return err;
  // The caller's own abort surfaces as its reason, whatever the socket made of it ("aborted").
  if (callerSignal.aborted) {
    const reason: unknown = callerSignal.reason;
    // An object, not `instanceof Error`: AbortController's DOMException may come from another realm.
    if (typeof reason === 'object' && reason !== null) return reason as Error;
    return err instanceof Error ? err : new Error(String(err));
  }
  if (timeout?.aborted || (err as Error).name === 'TimeoutError') {
    return new ModelCallError(
      ErrorType.ModelTimeout,
      `model service at ${url} did not answer in time`,
      true,
      { cause: err },
    );
  }
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const detail = (err as { code?: string }).code ?? cause?.code ?? cause?.message ?? (err as Error).message;
  return new ModelCallError(
    ErrorType.ModelUnavailable,
    `cannot reach model service at ${url}: ${detail}`,
    true,
    { cause: err },
  );
}

/** The service's own error message from an OpenAI/KServe error body, else the raw text. */
export function extractMessage(text: string): string {
  try {
    const j = JSON.parse(text) as {
      error?: { message?: string } | string;
      message?: string;
      detail?: string;
    };
    if (typeof j.error === 'string') return j.error;
    return j.error?.message ?? j.message ?? j.detail ?? text.slice(0, 500);
  } catch {
    return text.slice(0, 500) || '(empty body)';
  }
}

/** Yields the `data:` payloads of a Server-Sent Events body. */
export async function* sseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true });
    let idx: number;
    while ((idx = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, idx);
      buf = buf.slice(idx + 2);
      const data = event
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n');
      if (data) yield data;
    }
  }
}

/**
 * POSTs a streaming request and calls `onChunk` with each JSON event until the stream ends (or
 * `[DONE]`). Every failure, including invalid JSON and an error event, becomes a ModelCallError.
 */
export async function streamJson<T extends { error?: unknown }>(
  url: string,
  body: unknown,
  opts: PostJsonOptions,
  onChunk: (chunk: T) => void,
): Promise<void> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = AbortSignal.any([opts.signal, timeout]);
  try {
    const res = await postJson(new URL(url), body, opts.headers, signal);
    let done = false;
    for await (const data of sseData(res)) {
      // After [DONE] the rest of the body is read, not cut: the connection goes back to the pool.
      if (done) continue;
      if (data === '[DONE]') {
        done = true;
        continue;
      }
      const chunk = JSON.parse(data) as T;
      if (chunk.error) {
        const e = chunk.error as { message?: string } | string;
        const msg = typeof e === 'string' ? e : (e.message ?? JSON.stringify(e));
        res.destroy();
        throw new ModelCallError(ErrorType.ModelUnavailable, `model service error mid-stream: ${msg}`, true);
      }
      onChunk(chunk);
    }
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw new ModelCallError(
        ErrorType.ModelBadResponse,
        `model service sent invalid JSON: ${err.message}`,
        true,
      );
    }
    throw classifyCallError(err, url, opts.signal, timeout);
  }
}

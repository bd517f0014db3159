import { ErrorType } from '../shared/error-types';
import { ModelCallError, errorFromStatus } from './model-call-error';

/** Options for {@link postJson}. */
export interface PostJsonOptions {
  headers: Record<string, string>;
  signal: AbortSignal;
  /** Milliseconds before the call is abandoned as a timeout. */
  timeoutMs: number;
}

/**
 * POSTs JSON and returns the response once its status is OK; every failure is classified as a
 * ModelCallError (connection errors and timeouts are retryable, 4xx are not).
 */
export async function postJson(url: string, body: unknown, opts: PostJsonOptions): Promise<Response> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = AbortSignal.any([opts.signal, timeout]);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...opts.headers },
      body: JSON.stringify(body),
      signal,
    });
  } catch (err) {
    throw classifyFetchError(err, url, opts.signal, timeout);
  }
  if (!res.ok) {
    const text = await res.text().catch(() => '');
    throw errorFromStatus(
      res.status,
      `model service answered ${res.status}: ${extractMessage(text)}`,
      res.headers.get('retry-after'),
    );
  }
  return res;
}

/** Turns a fetch/stream failure into a ModelCallError (or rethrows an abort by the caller). */
export function classifyFetchError(
  err: unknown,
  url: string,
  callerSignal: AbortSignal,
  timeout?: AbortSignal,
): Error {
  if (err instanceof ModelCallError) return err;
  if (callerSignal.aborted) return err instanceof Error ? err : new Error(String(err));
  if (timeout?.aborted || (err as Error).name === 'TimeoutError') {
    return new ModelCallError(
      ErrorType.ModelTimeout,
      `model service at ${url} did not answer in time`,
      true,
      { cause: err },
    );
  }
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message ?? (err as Error).message;
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
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
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
  const res = await postJson(url, body, opts);
  if (!res.body)
    throw new ModelCallError(ErrorType.ModelBadResponse, 'model service sent an empty body', true);
  try {
    for await (const data of sseData(res.body)) {
      if (data === '[DONE]') break;
      const chunk = JSON.parse(data) as T;
      if (chunk.error) {
        const e = chunk.error as { message?: string } | string;
        const msg = typeof e === 'string' ? e : (e.message ?? JSON.stringify(e));
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
    throw classifyFetchError(err, url, opts.signal);
  }
}

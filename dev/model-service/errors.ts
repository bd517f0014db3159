/** Values of the `type` field of OpenAI error bodies that this service sends. */
export const OpenAiErrorType = {
  InvalidRequest: 'invalid_request_error',
  RateLimit: 'rate_limit_error',
  Server: 'server_error',
} as const;
export type OpenAiErrorType = (typeof OpenAiErrorType)[keyof typeof OpenAiErrorType];

/** Options for {@link ServiceError}. */
export interface ServiceErrorOptions {
  /** OpenAI error `type`. @default invalid_request_error below 500, server_error from 500 */
  type?: OpenAiErrorType;
  /** The request field at fault, e.g. `messages[0].content`. @default null */
  param?: string | null;
  /** Machine-readable code, e.g. `model_not_found`. @default null */
  code?: string | null;
  /** Seconds sent as `Retry-After`. @default no header */
  retryAfterS?: number;
}

/** An error answer of the service; the error middleware turns it into HTTP once. */
export class ServiceError extends Error {
  override readonly name: string = 'ServiceError';
  readonly type: OpenAiErrorType;
  readonly param: string | null;
  readonly code: string | null;
  readonly retryAfterS?: number;

  constructor(
    readonly status: number,
    message: string,
    opts: ServiceErrorOptions = {},
  ) {
    super(message);
    this.type = opts.type ?? (status >= 500 ? OpenAiErrorType.Server : OpenAiErrorType.InvalidRequest);
    this.param = opts.param ?? null;
    this.code = opts.code ?? null;
    this.retryAfterS = opts.retryAfterS;
  }
}

/** A malformed request (400), naming the field at fault. */
export class InvalidRequestError extends ServiceError {
  override readonly name = 'InvalidRequestError';
  constructor(message: string, param: string | null = null) {
    super(400, message, { param });
  }
}

/** The requested model is not served here (404 `model_not_found`). */
export class ModelNotFoundError extends ServiceError {
  override readonly name = 'ModelNotFoundError';
  constructor(model: string, message = `The model \`${model}\` does not exist.`) {
    super(404, message, { param: 'model', code: 'model_not_found' });
  }
}

/** Prompt plus max_tokens does not fit the context window (400, vLLM's message). */
export class ContextLengthError extends ServiceError {
  override readonly name = 'ContextLengthError';
  constructor(contextLength: number, promptTokens: number, maxTokens: number, param: string) {
    super(
      400,
      `This model's maximum context length is ${contextLength} tokens. However, you requested ` +
        `${promptTokens + maxTokens} tokens (${promptTokens} in the messages, ${maxTokens} in the ` +
        `completion). Please reduce the length of the messages or completion.`,
      { param, code: 'context_length_exceeded' },
    );
  }
}

/** Every slot is busy and the wait queue is full (503 with Retry-After). */
export class QueueFullError extends ServiceError {
  override readonly name = 'QueueFullError';
  constructor(retryAfterS?: number) {
    super(503, 'The server is overloaded: all slots are busy and the queue is full.', {
      code: 'server_overloaded',
      retryAfterS,
    });
  }
}

/** A fault served on purpose (status faults from rates, the script or `X-Fault`). */
export class InjectedFaultError extends ServiceError {
  override readonly name = 'InjectedFaultError';
  constructor(status: number, retryAfterS?: number) {
    super(status, `injected fault: HTTP ${status}`, {
      type: status === 429 ? OpenAiErrorType.RateLimit : undefined,
      code: 'injected_fault',
      retryAfterS,
    });
  }
}

/** The service is closing; in-flight and new requests get 503. */
export class ShuttingDownError extends ServiceError {
  override readonly name = 'ShuttingDownError';
  constructor() {
    super(503, 'The server is shutting down.', { code: 'shutting_down', retryAfterS: 1 });
  }
}

/** Abort reason when the client closed the connection: nothing is left to answer. */
export class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
  constructor() {
    super('client closed the connection');
  }
}

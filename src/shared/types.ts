/** Pure data types shared by the API, activities and workflows. */

export const REQUEST_STATUSES = [
  'queued',
  'running',
  'completed',
  'failed',
  'cancelled',
  'rejected',
] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

/** Statuses a request never leaves. */
export const TERMINAL_STATUSES: readonly RequestStatus[] = ['completed', 'failed', 'cancelled', 'rejected'];

export function isRequestStatus(s: string): s is RequestStatus {
  return (REQUEST_STATUSES as readonly string[]).includes(s);
}

export function isTerminal(s: RequestStatus): boolean {
  return TERMINAL_STATUSES.includes(s);
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** What the API hands the workflow; everything the workflow needs, so it never reads the request. */
/**
 * Sampling parameters passed through to the model service as given (OpenAI / vLLM names). The
 * workflow never reads them; they ride in its input so every attempt sends the same request.
 */
export interface SamplingParams {
  top_p?: number;
  top_k?: number;
  min_p?: number;
  stop?: string[];
  seed?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  repetition_penalty?: number;
  /** End-user id for the model service's own abuse monitoring. */
  user?: string;
}

export interface InferenceInput {
  requestId: string;
  tenantId: string;
  model: string;
  prompt?: string;
  messages?: ChatMessage[];
  maxTokens: number;
  temperature?: number;
  /** Further sampling parameters; absent when the client gave none. */
  sampling?: SamplingParams;
  /** Prompt tokens counted by the API with the model's tokenizer. */
  promptTokens: number;
  /**
   * Tokens reserved at accept: promptTokens + the first slice of maxTokens (the model's
   * reserve_slice_tokens; the whole maxTokens when slices are off, and in requests accepted before
   * slices). The GPU worker extends the reservation by slices of the same size as tokens stream.
   */
  estimatedTokens: number;
  /** ISO time the request was accepted; quota windows are anchored here. */
  acceptedAt: string;
  /** GPU task queue serving the model. */
  gpuTaskQueue: string;
  /** Per-model call policy from the registry, fixed at acceptance so replays see the same values. */
  modelCall: {
    timeoutMs: number;
    maxAttempts: number;
  };
  /**
   * ISO time by which the request must be finished (acceptedAt + REQUEST_DEADLINE_S): the model call
   * is bounded by it. Absent in requests accepted before deadlines existed.
   */
  deadlineAt?: string;
  /** Temporal priority (from the tenant's tier) and fairness key (the tenant) on the GPU queue. */
  priority: {
    priorityKey: number;
    fairnessKey: string;
  };
  /**
   * True when the API wrote the request row and holds its reservation before starting the workflow
   * (patch `admitted-at-accept`): the workflow has no admit step. Absent: the workflow admits it.
   */
  admittedAtAccept?: boolean;
}

export interface ModelCallResult {
  text: string;
  usage: Usage;
  finishReason: string;
  /** True when usage came from the model service, false when counted by our tokenizer. */
  usageReported: boolean;
  /**
   * Why generation stopped when the model did not stop it: `quota_exhausted`, the tenant's token
   * limits refused the next slice of the reservation (finishReason is then `length`);
   * `reservation_closed`, the reservation was no longer open (swept as abandoned). Absent otherwise.
   */
  stopReason?: StopReason;
}

/** Why a generation was stopped by this service rather than by the model (see ModelCallResult). */
export type StopReason = 'quota_exhausted' | 'reservation_closed';

/** Why a model call ended without a result although it produced output (kept and charged). */
export type PartialFinishReason = 'cancelled' | 'timeout' | 'error';

/** Outcome of a quota reservation. */
export type ReservationOutcome =
  | { admitted: true }
  | {
      admitted: false;
      limit: string;
      limitValue: number;
      remaining: number;
      resetAt: string;
      retryAfterS: number;
    };

export interface InferenceOutcome {
  status: RequestStatus;
  usage?: Usage;
  error?: { type: string; message: string };
}

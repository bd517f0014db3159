import { randomUUID } from 'node:crypto';
import { AppError } from '../errors/app-error';
import type { ModelRegistry } from '../models/model-registry';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { firstSliceTokens, maxPromptChars, type ModelSpec } from '../models/model-spec';
import { withTimeout } from '../observability/readiness';
import type { QuotaHeadroom } from '../quota/quota-headroom';
import { reservationRefOf, type QuotaStore, type ReservationRef } from '../quota/quota-store';
import { quotaExceededError, type Refusal } from '../quota/refusal';
import type { RequestsRepo } from '../requests/requests-repo';
import { REQUEST_ID_PREFIX } from '../shared/constants';
import { ErrorType } from '../shared/error-types';
import type { InferenceInput } from '../shared/types';
import type { TenantWithLimits } from '../tenants/tenants-repo';
import { TokenCounters } from '../models/token-counters';
import type { SubmitBody } from './submit-schema';
import { inputMetrics, type InputMetrics } from './input-metrics';
import type { DeferredStarts } from './deferred-starts';
import type { WorkflowGateway } from './workflow-gateway';

/** Dependencies of {@link SubmitService}. */
export interface SubmitDeps {
  /** Seconds from acceptance by which a request must be finished (REQUEST_DEADLINE_S). */
  requestDeadlineS: number;
  registry: ModelRegistry;
  quota: QuotaStore;
  /** Read-only quota look-up made before tokenizing a large prompt. */
  headroom: QuotaHeadroom;
  workflows: WorkflowGateway;
  /** Writes the request row before the workflow starts (patch `admitted-at-accept`). */
  requests: Pick<RequestsRepo, 'insertQueued' | 'finish'>;
  /**
   * With it, a request is acknowledged once its row and its sealed workflow input are written, and
   * the workflow starts right after (see DeferredStarts). Without it, or when PostgreSQL cannot take
   * the row, the accept waits for the start.
   */
  starts?: Pick<DeferredStarts, 'seal' | 'startSoon' | 'accepting'>;
  metrics: Metrics;
  logger: Logger;
  /** Each model's token counter (its registry `tokenizer`). @default built from `registry` */
  counters?: TokenCounters;
  /**
   * Prompts of at least this many characters are checked against the tenant's quota (one read-only
   * Redis round trip) before they are tokenized; shorter ones cost less to count (about 0.5 ms at
   * 8 KiB) than the round trip, and reserve() refuses them anyway. @default 8192
   */
  headroomCheckMinChars?: number;
  /**
   * Longest wait for the request row at accept; past it (or when PostgreSQL is down) the request is
   * still accepted and its workflow writes the row. @default 2000
   */
  rowWriteTimeoutMs?: number;
}

/** Options of {@link SubmitService.prepare}. */
export interface PrepareOptions {
  /** Time of acceptance. @default now */
  now?: Date;
  /**
   * Checks a large prompt's tenant against its quota before tokenizing it (headroomCheckMinChars).
   * Off for batch items: each item's quota is decided when its own workflow starts. @default true
   */
  quotaPreCheck?: boolean;
  /**
   * Costly work follows the prepare (a webhook URL's DNS look-up, an Idempotency-Key row, a webhook
   * row): the tenant's quota is checked (read-only, with the request's exact estimate) before
   * returning, so a tenant at its limit is refused with nothing looked up or written. Ignored when
   * `quotaPreCheck` is off. @default false
   */
  sideEffectsNext?: boolean;
}

/** Options of {@link SubmitService.submit}. */
export interface SubmitOptions {
  /**
   * Runs once quota is reserved and before the request row and workflow start, with the request's
   * final id (e.g. storing its webhook target); idempotent. If it throws, the reservation is
   * released and the error rethrown.
   */
  afterReserve?: (input: InferenceInput) => Promise<void>;
}

export function newRequestId(): string {
  return `${REQUEST_ID_PREFIX}${randomUUID().replace(/-/g, '')}`;
}

/** Characters of the prompt, and the field to name when it is too long (the longest message's content). */
function promptSize(body: SubmitBody): { chars: number; param: string } {
  if (!body.messages) return { chars: body.prompt?.length ?? 0, param: 'prompt' };
  let chars = 0;
  let longest = 0;
  body.messages.forEach((m, i) => {
    chars += m.content.length;
    if (m.content.length > body.messages![longest]!.content.length) longest = i;
  });
  return { chars, param: `messages[${longest}].content` };
}

/**
 * Accepts a request: validates it against the model, reserves its prompt and the first slice of its
 * max_tokens atomically (the GPU worker reserves the rest slice by slice as tokens stream), then
 * starts its workflow. Reserving here (one Redis script) rather than in an update-with-start keeps
 * accept latency to one Redis round trip plus one StartWorkflowExecution, and lets the API accept
 * while every worker is down; the workflow's first activity re-asserts the same reservation.
 *
 * Cheap checks run before expensive work: the prompt's size in characters against the model's
 * bound, then (for a large prompt) the tenant's quota headroom, and only then tokenization, which
 * yields to the event loop so one large prompt never stalls other requests.
 */
export class SubmitService {
  private readonly input: InputMetrics;
  private readonly headroomMinChars: number;
  private readonly rowWriteTimeoutMs: number;
  private readonly counters: TokenCounters;

  constructor(private readonly deps: SubmitDeps) {
    this.input = inputMetrics(deps.metrics.registry);
    this.counters =
      deps.counters ??
      new TokenCounters(deps.registry, { metrics: deps.metrics.registry, logger: deps.logger });
    this.headroomMinChars = deps.headroomCheckMinChars ?? 8192;
    this.rowWriteTimeoutMs = deps.rowWriteTimeoutMs ?? 2000;
  }

  /**
   * Builds the workflow input from a validated body, or throws a 400 naming the offending field
   * (or a 429 when a large prompt's tenant is out of quota, unless `quotaPreCheck` is off).
   */
  async prepare(
    tenant: TenantWithLimits,
    body: SubmitBody,
    opts: PrepareOptions = {},
  ): Promise<InferenceInput> {
    const now = opts.now ?? new Date();
    const spec = this.deps.registry.get(body.model);
    if (!spec) {
      // 404, as OpenAI and vLLM answer an unknown model (the OpenAI client raises NotFoundError).
      throw new AppError(
        ErrorType.NotFound,
        `unknown model '${body.model}'; known models: ${this.deps.registry.names().join(', ')}`,
        { param: 'model' },
      );
    }
    const maxTokens = body.max_tokens ?? Math.min(spec.default_max_tokens, spec.context_length);
    // Every prompt is at least one token: a max_tokens that fills the context cannot fit any.
    if (maxTokens >= spec.context_length) {
      this.input.inputRejected.inc({ model: spec.name, reason: 'max_tokens_over_context' });
      throw new AppError(
        ErrorType.InvalidRequest,
        `max_tokens (${maxTokens}) leaves no room for a prompt in the context length of ${spec.name} (${spec.context_length} tokens)`,
        { param: 'max_tokens' },
      );
    }
    const size = promptSize(body);
    const maxChars = maxPromptChars(spec);
    if (size.chars > maxChars) {
      this.input.inputRejected.inc({ model: spec.name, reason: 'prompt_too_long' });
      this.deps.logger.warn(
        { tenant: tenant.id, model: spec.name, chars: size.chars, maxChars, param: size.param },
        'prompt over max_prompt_chars refused before tokenization',
      );
      throw new AppError(
        ErrorType.InvalidRequest,
        `prompt is ${size.chars} characters; ${spec.name} accepts at most ${maxChars} (its context length of ${spec.context_length} tokens)`,
        { param: size.param },
      );
    }
    const preCheck = opts.quotaPreCheck !== false;
    const largePrompt = preCheck && size.chars >= this.headroomMinChars;
    // Reservation in slices: the request reserves its prompt and a first slice of max_tokens; the
    // GPU worker extends it as tokens stream. Every quota check here uses that same figure.
    const firstSlice = firstSliceTokens(spec, maxTokens);
    if (largePrompt) await this.checkHeadroom(tenant.id, firstSlice, 'tokenize', `at least ${firstSlice}`);
    const room = spec.context_length - maxTokens;
    // Counting stops once the prompt is over `room`: the exact figure of a refused prompt is not needed.
    const promptTokens = await this.countPrompt(spec, body, size.chars, room);
    if (promptTokens > room) {
      this.input.inputRejected.inc({ model: spec.name, reason: 'context_length' });
      throw new AppError(
        ErrorType.InvalidRequest,
        `prompt (over ${room} tokens) + max_tokens (${maxTokens}) exceeds the context length of ${spec.name} (${spec.context_length} tokens)`,
        { param: body.max_tokens !== undefined ? 'max_tokens' : body.messages ? 'messages' : 'prompt' },
      );
    }
    // A large prompt's tenant was checked just above (with a lower bound); others before costly work.
    if (preCheck && !largePrompt && opts.sideEffectsNext) {
      const estimated = promptTokens + firstSlice;
      await this.checkHeadroom(tenant.id, estimated, 'side_effects', estimated);
    }
    return {
      requestId: newRequestId(),
      tenantId: tenant.id,
      model: spec.name,
      prompt: body.prompt,
      messages: body.messages,
      maxTokens,
      temperature: body.temperature,
      promptTokens,
      estimatedTokens: promptTokens + firstSlice,
      acceptedAt: now.toISOString(),
      deadlineAt: new Date(now.getTime() + this.deps.requestDeadlineS * 1000).toISOString(),
      gpuTaskQueue: spec.gpu_task_queue,
      modelCall: { timeoutMs: spec.request_timeout_ms, maxAttempts: spec.max_attempts },
      priority: { priorityKey: tenant.priority, fairnessKey: tenant.id },
    };
  }

  /** Throws the 429 reserve would if one more request of `tokens` does not fit the tenant's quota now. */
  private async checkHeadroom(
    tenantId: string,
    tokens: number,
    before: 'tokenize' | 'side_effects',
    needs: number | string,
  ): Promise<void> {
    const h = await this.deps.headroom.check(tenantId, tokens);
    this.input.quotaPrechecks.inc({ before, outcome: h.outcome === 'refused' ? 'refused' : 'ok' });
    if (h.outcome === 'refused') {
      this.deps.logger.info(
        { tenant: tenantId, limit: h.limit, before },
        'request refused by the quota pre-check',
      );
      throw this.quotaExceeded(tenantId, h, needs);
    }
  }

  /**
   * Prompt tokens as the model counts them (its registry `tokenizer`), without holding the event
   * loop: in process, a count that stops early once over `limit`; `server`, one bounded call to the
   * model server's tokenize endpoint (the prompt is already within max_prompt_chars). When the server
   * does not answer, the count is an upper bound (its UTF-8 bytes): a prompt that may not fit by it
   * is refused with a 503 rather than reserved short or refused as too long.
   */
  private async countPrompt(
    spec: ModelSpec,
    body: SubmitBody,
    chars: number,
    limit: number,
  ): Promise<number> {
    const started = performance.now();
    const { tokens, source } = await this.counters.of(spec).countPrompt(body, { limit });
    const seconds = (performance.now() - started) / 1000;
    this.input.tokenizeSeconds.observe({ model: spec.name }, seconds);
    this.input.tokenizedChars.inc({ model: spec.name }, chars);
    if (seconds > 0.25) {
      this.deps.logger.warn(
        { model: spec.name, chars, tokens, ms: Math.round(seconds * 1000) },
        'slow prompt tokenization',
      );
    }
    if (source === 'fallback' && tokens > limit) {
      throw new AppError(
        ErrorType.Unavailable,
        `the tokenizer of ${spec.name} (its model server) did not answer, and the prompt may not fit its context length of ${spec.context_length} tokens; retry later`,
        { retryAfterS: 5 },
      );
    }
    return tokens;
  }

  /** The 429 of a refused quota check; `needs` is the request's tokens (or its lower bound). */
  private quotaExceeded(tenantId: string, r: Refusal, needs: number | string): AppError {
    this.deps.metrics.requestsRefused.inc({ tenant: tenantId, limit: r.limit });
    return quotaExceededError(r, needs);
  }

  /**
   * Reserves quota, writes the request row, then starts the workflow; throws 429 (quota) or 503
   * (Redis down, or the start failed without the outbox). With the row and the reservation in place
   * the workflow has no admit step (patch `admitted-at-accept`): its first task only schedules the
   * model call. With deferred starts the
   * same statement puts the sealed input in the outbox, the request is accepted once it commits, and
   * the workflow starts right after (a failed start is retried by the recovery sweep). If PostgreSQL
   * cannot take the row, the accept waits for the start and the workflow admits the request once
   * PostgreSQL is back.
   */
  async submit(input: InferenceInput, opts: SubmitOptions = {}): Promise<void> {
    const ref = reservationRefOf(input);
    // Starts asked for meanwhile (this one's included) wait for the end of this accept.
    const accepted = this.deps.starts?.accepting();
    try {
      await this.reserveAndQueue(input, ref, opts);
    } finally {
      accepted?.();
    }
  }

  private async reserveAndQueue(
    input: InferenceInput,
    ref: ReservationRef,
    opts: SubmitOptions,
  ): Promise<void> {
    const { quota, workflows, requests, logger, starts } = this.deps;
    const r = await quota.reserve(ref, input.estimatedTokens);
    if (r.outcome === 'refused') throw this.quotaExceeded(input.tenantId, r, input.estimatedTokens);
    if (opts.afterReserve) {
      await opts.afterReserve(input).catch(async (err: unknown) => {
        // Nothing started: a reservation made by this call goes back. One found in place (`exists`,
        // a re-driven retry) may belong to a start already on its way, so it is left to its TTL.
        if (r.outcome === 'reserved') {
          await quota
            .release(ref)
            .catch((e: unknown) =>
              logger.error({ err: e, requestId: ref.requestId }, 'release after failed accept'),
            );
        }
        throw err;
      });
    }
    const admitted: InferenceInput = { ...input, admittedAtAccept: true };
    const sealed = starts ? await starts.seal(admitted) : undefined;
    const rowWritten = await withTimeout(requests.insertQueued(input, sealed), this.rowWriteTimeoutMs).then(
      () => true,
      (err: unknown) => {
        // A late insert is harmless: the workflow's admit step inserts the same row if absent.
        logger.warn(
          { err, requestId: input.requestId },
          'request row left to the workflow: PostgreSQL unavailable',
        );
        return false;
      },
    );
    if (rowWritten && starts) {
      starts.startSoon(admitted);
      this.accepted(input, 'api');
      return;
    }
    try {
      await workflows.start(rowWritten ? admitted : input);
    } catch (err) {
      // A start that failed on the way back may have started it: then it runs, and it is accepted.
      if (!(await this.startedAnyway(input.requestId))) await this.unqueue(ref, rowWritten, err);
    }
    this.accepted(input, rowWritten ? 'api' : 'workflow');
  }

  private accepted(input: InferenceInput, rowBy: 'api' | 'workflow'): void {
    this.input.rowWrittenBy.inc({ by: rowBy });
    this.deps.metrics.requestsAccepted.inc({ tenant: input.tenantId, model: input.model });
  }

  private async startedAnyway(requestId: string): Promise<boolean> {
    return this.deps.workflows.find(requestId).then(
      (w) => w !== undefined,
      () => false,
    );
  }

  /**
   * Undoes an accept whose workflow did not start: the reservation goes back (a Temporal outage must
   * not eat the tenant's quota) and the row, if written, ends as failed; then throws the 503.
   */
  private async unqueue(ref: ReservationRef, rowWritten: boolean, err: unknown): Promise<never> {
    const { quota, requests, logger } = this.deps;
    const { requestId } = ref;
    const message = 'could not queue the request; retry later';
    await quota
      .release(ref)
      .catch((e: unknown) => logger.error({ err: e, requestId }, 'release after failed start'));
    if (rowWritten) {
      await requests
        .finish(requestId, 'failed', { type: ErrorType.Unavailable, message })
        .catch((e: unknown) =>
          logger.error({ err: e, requestId }, 'request row left queued after failed start'),
        );
    }
    logger.error({ err, requestId }, 'workflow start failed');
    throw new AppError(ErrorType.Unavailable, message, { retryAfterS: 1, cause: err });
  }
}

import { randomUUID } from 'node:crypto';
import { AppError } from '../errors/app-error';
import type { ModelRegistry } from '../models/model-registry';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { QuotaStore } from '../quota/quota-store';
import { REQUEST_ID_PREFIX } from '../shared/constants';
import { ErrorType } from '../shared/error-types';
import type { InferenceInput } from '../shared/types';
import type { TenantWithLimits } from '../tenants/tenants-repo';
import { getTokenizer } from '../tokenizer/tokenizer';
import type { SubmitBody } from '../api/schemas';
import type { WorkflowGateway } from './workflow-gateway';

/** Dependencies of {@link SubmitService}. */
export interface SubmitDeps {
  registry: ModelRegistry;
  quota: QuotaStore;
  workflows: WorkflowGateway;
  metrics: Metrics;
  logger: Logger;
}

export function newRequestId(): string {
  return `${REQUEST_ID_PREFIX}${randomUUID().replace(/-/g, '')}`;
}

/**
 * Accepts a request: validates it against the model, reserves its estimated tokens atomically, then
 * starts its workflow. Reserving here (one Redis script) rather than in an update-with-start keeps
 * accept latency to one Redis round trip plus one StartWorkflowExecution, and lets the API accept
 * while every worker is down; the workflow's first activity re-asserts the same reservation.
 */
export class SubmitService {
  constructor(private readonly deps: SubmitDeps) {}

  /** Builds the workflow input from a validated body, or throws a 400 naming the offending field. */
  prepare(tenant: TenantWithLimits, body: SubmitBody, now = new Date()): InferenceInput {
    const spec = this.deps.registry.get(body.model);
    if (!spec) {
      throw new AppError(
        ErrorType.InvalidRequest,
        `unknown model '${body.model}'; known models: ${this.deps.registry.names().join(', ')}`,
        { param: 'model' },
      );
    }
    const maxTokens = body.max_tokens ?? Math.min(spec.default_max_tokens, spec.context_length);
    const promptTokens = getTokenizer(spec.tokenizer).countPrompt(body);
    if (promptTokens + maxTokens > spec.context_length) {
      throw new AppError(
        ErrorType.InvalidRequest,
        `prompt (${promptTokens} tokens) + max_tokens (${maxTokens}) exceeds the context length of ${spec.name} (${spec.context_length} tokens)`,
        { param: body.max_tokens !== undefined ? 'max_tokens' : body.messages ? 'messages' : 'prompt' },
      );
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
      estimatedTokens: promptTokens + maxTokens,
      acceptedAt: now.toISOString(),
      gpuTaskQueue: spec.gpu_task_queue,
      modelCall: { timeoutMs: spec.request_timeout_ms, maxAttempts: spec.max_attempts },
      priority: { priorityKey: tenant.priority, fairnessKey: tenant.id },
    };
  }

  /** Reserves quota and starts the workflow; throws 429 (quota) or 503 (Temporal down). */
  async submit(input: InferenceInput): Promise<void> {
    const { quota, workflows, metrics, logger } = this.deps;
    const ref = {
      requestId: input.requestId,
      tenantId: input.tenantId,
      acceptedAt: new Date(input.acceptedAt),
    };
    const r = await quota.reserve(ref, input.estimatedTokens);
    if (r.outcome === 'refused') {
      metrics.requestsRefused.inc({ tenant: input.tenantId, limit: r.limit });
      const remaining = Math.max(0, r.limitValue - r.used - r.reserved);
      const retryAfterS = Math.max(1, Math.ceil((r.resetsAt.getTime() - Date.now()) / 1000));
      throw new AppError(
        ErrorType.QuotaExceeded,
        `${r.limit} exceeded: limit ${r.limitValue}, used ${r.used}, reserved ${r.reserved}, this request needs ${r.limit.startsWith('tokens') ? input.estimatedTokens : 1}`,
        {
          retryAfterS,
          param: r.limit,
          headers: {
            'X-RateLimit-Limit': String(r.limitValue),
            'X-RateLimit-Remaining': String(remaining),
            'X-RateLimit-Reset': String(Math.ceil(r.resetsAt.getTime() / 1000)),
            'X-RateLimit-Limit-Name': r.limit,
          },
        },
      );
    }
    try {
      await workflows.start(input);
    } catch (err) {
      // Not started: give the reservation back so a Temporal outage does not eat the tenant's quota.
      await quota
        .release(ref)
        .catch((e: unknown) =>
          logger.error({ err: e, requestId: input.requestId }, 'release after failed start'),
        );
      logger.error({ err, requestId: input.requestId }, 'workflow start failed');
      throw new AppError(ErrorType.Unavailable, 'could not queue the request; retry later', {
        retryAfterS: 1,
        cause: err,
      });
    }
    metrics.requestsAccepted.inc({ tenant: input.tenantId, model: input.model });
  }
}

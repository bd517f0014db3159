import type { Env } from '../config/schema';
import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logger';
import type { ModelAdapter } from './model-adapter';
import type { ModelRegistry } from './model-registry';
import type { ModelSpec } from './model-spec';
import { OpenAiAdapter } from './openai-adapter';
import { KserveV2Adapter } from './kserve-v2-adapter';
import { createTokenCounter } from './token-counters';

/** Builds the auth header of a model from the environment (secrets never live in the registry file). */
export function headersOf(spec: ModelSpec, env: NodeJS.ProcessEnv): Record<string, string> {
  if (!spec.auth_header) return {};
  const secret = env[spec.auth_header.value_env];
  if (!secret)
    throw new Error(
      `model ${spec.name}: env ${spec.auth_header.value_env} (auth_header.value_env) is not set`,
    );
  return { [spec.auth_header.name]: `${spec.auth_header.prefix}${secret}` };
}

/** One adapter per model of the registry that is served on one of `queues`. */
export function createAdapters(
  registry: ModelRegistry,
  queues: readonly string[],
  secretsEnv: NodeJS.ProcessEnv,
  counting: { metrics: Registry; logger: Logger },
): Map<string, ModelAdapter> {
  const out = new Map<string, ModelAdapter>();
  for (const spec of registry.list()) {
    if (!queues.includes(spec.gpu_task_queue)) continue;
    const headers = headersOf(spec, secretsEnv);
    const common = {
      baseUrl: spec.base_url,
      model: spec.upstream_model ?? spec.name,
      headers,
      timeoutMs: spec.request_timeout_ms,
      counter: createTokenCounter(spec, { ...counting, headers }),
    };
    out.set(
      spec.name,
      spec.protocol === 'openai'
        ? new OpenAiAdapter({ ...common, chatContinuation: spec.chat_continuation })
        : new KserveV2Adapter(common),
    );
  }
  return out;
}

/** The GPU queues this worker serves: GPU_TASK_QUEUES, else every queue in the registry. */
export function servedQueues(cfg: Pick<Env, 'GPU_TASK_QUEUES'>, registry: ModelRegistry): string[] {
  const all = [...registry.queues().keys()];
  if (!cfg.GPU_TASK_QUEUES) return all;
  return cfg.GPU_TASK_QUEUES.split(',')
    .map((q) => q.trim())
    .filter(Boolean);
}

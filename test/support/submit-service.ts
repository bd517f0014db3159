import { submitBodySchema, type SubmitBody } from '../../src/inference/submit-schema';
import { SubmitService, type SubmitDeps } from '../../src/inference/submit-service';
import { TemporalWorkflowGateway } from '../../src/inference/workflow-gateway';
import { ModelRegistry } from '../../src/models/model-registry';
import { modelSpecSchema } from '../../src/models/model-spec';
import { createLogger } from '../../src/observability/logger';
import { createMetrics } from '../../src/observability/metrics';
import { QuotaHeadroom } from '../../src/quota/quota-headroom';
import { RequestsRepo } from '../../src/requests/requests-repo';
import type { InferenceInput } from '../../src/shared/types';
import type { Stack } from './stack';

/**
 * The API's submit path without the API, on a test stack's stores and Temporal: tests drive its
 * steps, replace one dependency to fail it, or stop between steps as a dying process would.
 */
export function submitServiceOn(s: Stack, over: Partial<SubmitDeps> = {}): SubmitService {
  return new SubmitService({
    registry: new ModelRegistry([modelSpecSchema.parse(s.registrySpec)]),
    quota: s.quota,
    headroom: new QuotaHeadroom({
      redis: s.redis,
      keys: s.quota.keys,
      rebuild: (t) => s.quota.rebuildTenant(t),
    }),
    workflows: new TemporalWorkflowGateway(s.client, s.cfg.ORCHESTRATION_TASK_QUEUE),
    requests: new RequestsRepo(s.pool, s.atRest),
    metrics: createMetrics('submit-test'),
    logger: createLogger({ component: 'submit-test', level: 'silent' }),
    requestDeadlineS: s.cfg.REQUEST_DEADLINE_S,
    ...over,
  });
}

/** The stack tenant's submit body for ref-small (8 tokens), as the API parses it. */
export const submitBody = (prompt: string): SubmitBody =>
  submitBodySchema.parse({ model: 'ref-small', prompt, max_tokens: 8 });

/** `submit`'s first step for the stack's tenant: the request as it will be written and started. */
export async function prepared(s: Stack, submit: SubmitService, prompt: string): Promise<InferenceInput> {
  return submit.prepare((await s.tenants.get(s.tenantId))!, submitBody(prompt));
}

import type { SubmitBody } from './submit-schema';
import { AppError } from '../errors/app-error';
import type { StoredResponse } from '../idempotency/idempotency-store';
import type { IdempotentSubmit } from './idempotent-submit';
import type { RequestRecord, RequestsRepo } from '../requests/requests-repo';
import { ErrorType } from '../shared/error-types';
import type { InferenceInput, SamplingParams } from '../shared/types';
import { awaitEnd } from '../streams/await-end';
import type { RequestFollower } from '../streams/request-follower';
import type { StreamMetrics } from '../streams/stream-metrics';
import type { TenantWithLimits } from '../tenants/tenants-repo';
import type { RequestWebhooks } from '../webhooks/request-webhooks';
import type { SubmitService } from './submit-service';

/** Dependencies of {@link AcceptService}. */
export interface AcceptDeps {
  submit: Pick<SubmitService, 'prepare' | 'submit'>;
  /** Idempotency-Key handling; without it the header is ignored. @default none */
  idempotent?: Pick<IdempotentSubmit, 'accept' | 'complete'>;
  /** `webhook_url` on submit; without it a `webhook_url` is refused (400). @default none */
  webhooks?: Pick<RequestWebhooks, 'checkSyntax' | 'check' | 'bind'>;
  follower: RequestFollower;
  requests: Pick<RequestsRepo, 'get'>;
  streamMetrics: StreamMetrics;
}

/** One request to accept, from any API surface (native or OpenAI-compatible). */
export interface AcceptCall {
  tenant: TenantWithLimits;
  /** The request's `Idempotency-Key`, if it sent one. @default none */
  idempotencyKey?: string;
  /** `POST /v1/inference`, `POST /v1/chat/completions`...: part of a key's hash, so keys do not cross endpoints. */
  endpoint: string;
  /** The parsed body as the client sent it: what an Idempotency-Key is bound to. */
  body: unknown;
  /** The request in the native shape (an OpenAI body translated). */
  submit: SubmitBody;
  /** Sampling parameters passed through to the model service. @default none */
  sampling?: SamplingParams;
  /**
   * The response to the accept, recorded with an Idempotency-Key and replayed to its retries. None:
   * a retry's response is rebuilt from its request (the OpenAI endpoints). @default none
   */
  respond?: (input: InferenceInput) => StoredResponse;
  /**
   * Runs once quota is reserved, before the request row and workflow (after the webhook target is
   * stored), with the request's final id: what the surface keeps beside the request (the Responses
   * API's row). Idempotent: a re-driven Idempotency-Key runs it again. @default none
   */
  afterReserve?: (input: InferenceInput) => Promise<void>;
}

/** An accepted request. */
export interface AcceptedRequest {
  input: InferenceInput;
  /** True when an Idempotency-Key was seen before: the request is the first submit's. */
  replayed: boolean;
  /** The response to send (the first submit's on a replay); none without `respond`. */
  response?: StoredResponse;
}

/**
 * The accept path of every API surface, in one place: checks a webhook URL's syntax, validates and
 * prices the request with the tenant's quota checked before any costly work (a webhook URL's DNS
 * look-up, an Idempotency-Key row, a webhook row), binds an Idempotency-Key, reserves quota, stores
 * the webhook target once quota is reserved, writes the row and starts the workflow; then lets the
 * caller wait for the request's end.
 */
export class AcceptService {
  constructor(private readonly deps: AcceptDeps) {}

  /** Accepts the request, or throws 400/404/409/422/429/503 with nothing half-written. */
  async accept(c: AcceptCall): Promise<AcceptedRequest> {
    const { submit, idempotent, webhooks } = this.deps;
    const body = c.submit;
    if (!webhooks && body.webhook_url !== undefined) {
      throw new AppError(ErrorType.InvalidRequest, 'webhooks are not enabled', { param: 'webhook_url' });
    }
    // Nothing costly before the quota decision: the URL's syntax now, its DNS look-up only once a
    // read-only quota check has passed, its row only once quota is reserved (afterReserve).
    webhooks?.checkSyntax(body);
    const webhook = webhooks && body.webhook_url !== undefined ? webhooks : undefined;
    const key = idempotent ? c.idempotencyKey : undefined;
    const prepare = async (): Promise<InferenceInput> => {
      const input = await submit.prepare(c.tenant, body, {
        sideEffectsNext: !!(webhook || key || c.afterReserve),
      });
      if (c.sampling) input.sampling = c.sampling;
      await webhook?.check(body);
      return input;
    };
    // The target is stored under the request id before the workflow starts, so its end finds it.
    const afterReserve =
      webhook || c.afterReserve
        ? async (i: InferenceInput): Promise<void> => {
            await webhook?.bind(i.requestId, c.tenant.id, body);
            await c.afterReserve?.(i);
          }
        : undefined;
    if (!idempotent || key === undefined) {
      const input = await prepare();
      await submit.submit(input, afterReserve ? { afterReserve } : {});
      return { input, replayed: false, response: c.respond?.(input) };
    }
    const accepted = await idempotent.accept({
      tenantId: c.tenant.id,
      key,
      endpoint: c.endpoint,
      body: c.body,
      prepare,
      afterReserve,
      respond: c.respond,
    });
    let response = accepted.response;
    // A key started by an earlier API version without its response (see IdempotentSubmit.complete).
    if (!response && c.respond) {
      response = c.respond(accepted.input);
      await idempotent.complete(c.tenant.id, key, accepted.input.requestId, response);
    }
    return { ...accepted, response };
  }

  /**
   * Waits until the accepted request ends or `signal` ends the wait: its row when terminal, else
   * undefined. A request this call submitted is not read from PostgreSQL before the first wait.
   */
  async wait(a: AcceptedRequest, signal: AbortSignal): Promise<RequestRecord | undefined> {
    return awaitEnd(this.deps, a.input.requestId, a.input.tenantId, signal, !a.replayed);
  }
}

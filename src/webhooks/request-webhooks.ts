import { AppError } from '../errors/app-error';
import { ErrorType } from '../shared/error-types';
import type { AddressPolicy } from './address-policy';
import { WEBHOOK_EVENTS, type WebhookEvent } from './webhook-events';
import {
  checkWebhookUrl,
  parseWebhookUrl,
  systemResolver,
  WebhookUrlError,
  type HostResolver,
} from './webhook-url';
import type { WebhooksRepo } from './webhooks-repo';

/** A submit's webhook fields. */
export interface WebhookFields {
  webhook_url?: string;
  webhook_events?: WebhookEvent[];
}

/**
 * The API side of webhooks: checks a submit's `webhook_url`, binds it to the request, shows
 * deliveries. A submit's check is in two halves: {@link checkSyntax} (no I/O) runs first, and
 * {@link check} (a DNS look-up) only once the tenant's quota has room for the request, so a refused
 * request costs no look-up.
 */
export class RequestWebhooks {
  constructor(
    readonly repo: WebhooksRepo,
    private readonly policy: AddressPolicy,
    /** Resolves webhook hosts. @default the system resolver */
    private readonly resolve: HostResolver = systemResolver,
  ) {}

  /** Throws a 400 naming `webhook_url` (or `webhook_events`) unless the fields are well formed; no I/O. */
  checkSyntax(body: WebhookFields): void {
    if (body.webhook_url === undefined) {
      if (body.webhook_events) {
        throw new AppError(ErrorType.InvalidRequest, 'webhook_events needs a webhook_url', {
          param: 'webhook_events',
        });
      }
      return;
    }
    refuseAs('webhook_url', () => parseWebhookUrl(body.webhook_url!));
  }

  /** Throws a 400 naming `webhook_url` (or `webhook_events`) unless the fields are deliverable. */
  async check(body: WebhookFields): Promise<void> {
    this.checkSyntax(body);
    if (body.webhook_url !== undefined) await this.checkUrl(body.webhook_url, 'webhook_url');
  }

  /** Throws a 400 naming `param` unless `url` is an allowed http(s) URL. */
  async checkUrl(url: string, param: string): Promise<void> {
    await refuseAs(param, () => checkWebhookUrl(url, this.policy, this.resolve));
  }

  /** Stores the request's webhook target before its workflow starts (idempotent). */
  async bind(requestId: string, tenantId: string, body: WebhookFields): Promise<void> {
    if (body.webhook_url === undefined) return;
    await this.repo.setRequestTarget(
      requestId,
      tenantId,
      body.webhook_url,
      body.webhook_events ?? WEBHOOK_EVENTS,
    );
  }
}

/** Runs `check`, turning its {@link WebhookUrlError} into a 400 naming `param`. */
function refuseAs<T>(param: string, check: () => T): T {
  const refuse = (err: unknown): never => {
    if (!(err instanceof WebhookUrlError)) throw err;
    throw new AppError(ErrorType.InvalidRequest, `${param} ${err.message}`, { param });
  };
  try {
    const out = check();
    return (out instanceof Promise ? out.catch(refuse) : out) as T;
  } catch (err) {
    return refuse(err);
  }
}

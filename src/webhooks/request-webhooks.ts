import { AppError } from '../errors/app-error';
import { ErrorType } from '../shared/error-types';
import type { AddressPolicy } from './address-policy';
import { WEBHOOK_EVENTS, type WebhookEvent } from './webhook-events';
import { checkWebhookUrl, WebhookUrlError } from './webhook-url';
import type { WebhooksRepo } from './webhooks-repo';

/** A submit's webhook fields. */
export interface WebhookFields {
  webhook_url?: string;
  webhook_events?: WebhookEvent[];
}

/** The API side of webhooks: checks a submit's `webhook_url`, binds it to the request, shows deliveries. */
export class RequestWebhooks {
  constructor(
    readonly repo: WebhooksRepo,
    private readonly policy: AddressPolicy,
  ) {}

  /** Throws a 400 naming `webhook_url` (or `webhook_events`) unless the fields are deliverable. */
  async check(body: WebhookFields): Promise<void> {
    if (body.webhook_url === undefined) {
      if (body.webhook_events) {
        throw new AppError(ErrorType.InvalidRequest, 'webhook_events needs a webhook_url', {
          param: 'webhook_events',
        });
      }
      return;
    }
    await this.checkUrl(body.webhook_url, 'webhook_url');
  }

  /** Throws a 400 naming `param` unless `url` is an allowed http(s) URL. */
  async checkUrl(url: string, param: string): Promise<void> {
    try {
      await checkWebhookUrl(url, this.policy);
    } catch (err) {
      if (!(err instanceof WebhookUrlError)) throw err;
      throw new AppError(ErrorType.InvalidRequest, `${param} ${err.message}`, { param });
    }
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

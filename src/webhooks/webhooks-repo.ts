import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import type { AtRestSealer } from '../codec/at-rest-sealer';
import type { WebhookEvent } from './webhook-events';
import type { EndpointEvent } from './openai-events';
import { newWebhookSecret } from './webhook-signature';

/** A tenant's webhook endpoint (its secret only when just created). */
export interface WebhookEndpoint {
  id: string;
  tenantId: string;
  url: string;
  events: EndpointEvent[];
  createdAt: Date;
}

/** Where one event of one request goes. */
export interface WebhookTarget {
  /** The endpoint's id, or `req` for the request's own `webhook_url`. */
  endpointId: string;
  url: string;
  /**
   * The OpenAI-shaped event this target subscribed to (`response.completed`...), for an endpoint
   * that asked for OpenAI's events; none: the native `inference.*` event.
   */
  openAiEvent?: string;
}

/** A delivery with what an attempt needs. */
export interface DeliveryToSend {
  id: string;
  url: string;
  payload: unknown;
  /** The signing secret; undefined when its endpoint was deleted. */
  secret?: string;
  deliveredAt?: Date;
}

/** One delivery attempt as shown on the request. */
export interface AttemptView {
  attempt: number;
  at: string;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
}

/** A delivery as GET /v1/inference/:id shows it. */
export type DeliveryView = Record<string, unknown>;

/** One delivery as {@link deliveriesSql} returns it (timestamps as PostgreSQL writes them in JSON). */
export interface DeliveryJson {
  id: string;
  url: string;
  event: string;
  delivered_at: string | null;
  failed_at: string | null;
  attempts: AttemptView[];
}

type TargetRow = { endpoint_id: string; url: string; openai_event: string | null };

/**
 * SQL selecting the targets subscribed to an event of a request (its own URL, then the tenant's
 * endpoints) as rows `(endpoint_id, url, openai_event)`; the arguments are SQL expressions, e.g.
 * `$1`. Shared by {@link WebhooksRepo.targetsFor} and statements that end a request and read its
 * targets at once. A request that is a Responses API response (a `responses` row) also goes to the
 * endpoints subscribed to its OpenAI-shaped event: `completed` is `response.incomplete` when the
 * output hit its token limit (finish_reason `length`, recorded before the status moves),
 * `rejected` is `response.failed`.
 */
export function targetsSql(requestId: string, tenantId: string, event: string): string {
  return `SELECT 'req' AS endpoint_id, url, NULL::text AS openai_event FROM request_webhooks
            WHERE request_id = ${requestId} AND tenant_id = ${tenantId} AND ${event}::text = ANY (events)
          UNION ALL
          SELECT id, url, NULL::text FROM webhook_endpoints
            WHERE tenant_id = ${tenantId} AND ${event}::text = ANY (events)
          UNION ALL
          SELECT e.id, e.url, o.type FROM responses r
            JOIN requests q ON q.id = r.request_id
            CROSS JOIN LATERAL (SELECT CASE ${event}::text
                WHEN 'completed' THEN CASE WHEN q.finish_reason = 'length' THEN 'response.incomplete'
                                           ELSE 'response.completed' END
                WHEN 'cancelled' THEN 'response.cancelled'
                ELSE 'response.failed' END AS type) o
            JOIN webhook_endpoints e ON e.tenant_id = r.tenant_id AND o.type = ANY (e.events)
            WHERE r.request_id = ${requestId} AND r.tenant_id = ${tenantId}`;
}

export function toTargets(rows: readonly TargetRow[]): WebhookTarget[] {
  return rows.map((r) => ({
    endpointId: r.endpoint_id,
    url: r.url,
    ...(r.openai_event ? { openAiEvent: r.openai_event } : {}),
  }));
}

/**
 * SQL of one JSON array value: a request's deliveries, oldest first, each with its attempts in order
 * (`[]` when none). The arguments are SQL expressions; a statement that reads the request row can
 * read its deliveries too.
 */
export function deliveriesSql(requestId: string, tenantId: string): string {
  return `(SELECT COALESCE(json_agg(json_build_object('id', d.id, 'url', d.url, 'event', d.event,
             'delivered_at', d.delivered_at, 'failed_at', d.failed_at,
             'attempts', COALESCE((SELECT json_agg(json_build_object('attempt', a.attempt, 'at', a.at,
                 'status_code', a.status_code, 'duration_ms', a.duration_ms, 'error', a.error) ORDER BY a.attempt)
               FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]'::json))
             ORDER BY d.created_at, d.id), '[]'::json)
           FROM webhook_deliveries d WHERE d.request_id = ${requestId} AND d.tenant_id = ${tenantId})`;
}

const iso = (t: string): string => new Date(t).toISOString();

export function toDeliveryViews(deliveries: readonly DeliveryJson[]): DeliveryView[] {
  return deliveries.map((d) => ({
    id: d.id,
    url: d.url,
    event: d.event,
    attempts: d.attempts,
    delivered_at: d.delivered_at ? iso(d.delivered_at) : null,
    ...(d.failed_at ? { failed_at: iso(d.failed_at) } : {}),
  }));
}

/** Webhook endpoints, per-request targets, deliveries and their attempts in PostgreSQL. */
export class WebhooksRepo {
  constructor(
    private readonly pool: Pool,
    /**
     * Seals delivery payloads at rest (PAYLOAD_KEYS): their `error` is the request's failure
     * message, which a model service may word after the prompt. CLEAR_AT_REST keeps them in clear.
     */
    private readonly sealer: AtRestSealer,
  ) {}

  /** Creates an endpoint and returns it with its secret (the only time the secret is shown). */
  async createEndpoint(
    tenantId: string,
    url: string,
    events: readonly EndpointEvent[],
  ): Promise<WebhookEndpoint & { secret: string }> {
    const id = `whe_${randomBytes(12).toString('hex')}`;
    const secret = newWebhookSecret();
    const { rows } = await this.pool.query<{ created_at: Date }>(
      'INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret) VALUES ($1, $2, $3, $4, $5) RETURNING created_at',
      [id, tenantId, url, events, secret],
    );
    return { id, tenantId, url, events: [...events], createdAt: rows[0]!.created_at, secret };
  }

  async listEndpoints(tenantId: string): Promise<WebhookEndpoint[]> {
    const { rows } = await this.pool.query<{
      id: string;
      url: string;
      events: EndpointEvent[];
      created_at: Date;
    }>(
      'SELECT id, url, events, created_at FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at, id',
      [tenantId],
    );
    return rows.map((r) => ({ id: r.id, tenantId, url: r.url, events: r.events, createdAt: r.created_at }));
  }

  /** False when the tenant has no such endpoint. */
  async deleteEndpoint(tenantId: string, id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      'DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2',
      [tenantId, id],
    );
    return rowCount === 1;
  }

  /** Replaces the secret that signs the tenant's per-request `webhook_url` deliveries; returns it. */
  async rotateRequestSecret(tenantId: string): Promise<string> {
    const secret = newWebhookSecret();
    await this.pool.query(
      `INSERT INTO webhook_request_secrets (tenant_id, secret) VALUES ($1, $2)
       ON CONFLICT (tenant_id) DO UPDATE SET secret = EXCLUDED.secret, created_at = now()`,
      [tenantId, secret],
    );
    return secret;
  }

  /** Stores a request's own webhook target (idempotent), and the tenant's request secret if none. */
  async setRequestTarget(
    requestId: string,
    tenantId: string,
    url: string,
    events: readonly WebhookEvent[],
  ): Promise<void> {
    await this.pool.query(
      `WITH s AS (
         INSERT INTO webhook_request_secrets (tenant_id, secret) VALUES ($2, $5) ON CONFLICT (tenant_id) DO NOTHING)
       INSERT INTO request_webhooks (request_id, tenant_id, url, events) VALUES ($1, $2, $3, $4)
       ON CONFLICT (request_id) DO NOTHING`,
      [requestId, tenantId, url, events, newWebhookSecret()],
    );
  }

  /** Every target that subscribed to `event` for this request: its own URL, then the tenant's endpoints. */
  async targetsFor(requestId: string, tenantId: string, event: WebhookEvent): Promise<WebhookTarget[]> {
    const { rows } = await this.pool.query<TargetRow>(targetsSql('$1', '$2', '$3'), [
      requestId,
      tenantId,
      event,
    ]);
    return toTargets(rows);
  }

  /** Records a delivery once (a retried activity finds it and keeps its first payload). */
  async createDelivery(d: {
    id: string;
    requestId: string;
    tenantId: string;
    endpointId: string;
    url: string;
    /** The native event (`completed`...) or an OpenAI-shaped one (`response.completed`...). */
    event: string;
    payload: unknown;
  }): Promise<void> {
    await this.pool.query(
      `INSERT INTO webhook_deliveries (id, request_id, tenant_id, endpoint_id, url, event, payload)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
      [
        d.id,
        d.requestId,
        d.tenantId,
        d.endpointId,
        d.url,
        d.event,
        JSON.stringify(await this.sealer.seal(d.payload)),
      ],
    );
  }

  /**
   * The tenant's endpoints subscribed to the OpenAI-shaped `event` of a batch (`batch.completed`...),
   * with the batch's tenant; none when the batch is unknown.
   */
  async batchTargets(
    batchId: string,
    event: string,
  ): Promise<{ tenantId: string; targets: WebhookTarget[] }> {
    const { rows } = await this.pool.query<{ tenant_id: string; id: string | null; url: string | null }>(
      `SELECT b.tenant_id, e.id, e.url FROM batches b
       LEFT JOIN webhook_endpoints e ON e.tenant_id = b.tenant_id AND $2::text = ANY (e.events)
       WHERE b.id = $1 ORDER BY e.created_at, e.id`,
      [batchId, event],
    );
    return {
      tenantId: rows[0]?.tenant_id ?? '',
      targets: rows.flatMap((r) =>
        r.id && r.url ? [{ endpointId: r.id, url: r.url, openAiEvent: event }] : [],
      ),
    };
  }

  async deliveryToSend(id: string): Promise<DeliveryToSend | undefined> {
    const { rows } = await this.pool.query<{
      id: string;
      url: string;
      payload: unknown;
      secret: string | null;
      delivered_at: Date | null;
    }>(
      `SELECT d.id, d.url, d.payload, d.delivered_at,
              CASE WHEN d.endpoint_id = 'req' THEN s.secret ELSE e.secret END AS secret
       FROM webhook_deliveries d
       LEFT JOIN webhook_endpoints e ON e.id = d.endpoint_id
       LEFT JOIN webhook_request_secrets s ON s.tenant_id = d.tenant_id
       WHERE d.id = $1`,
      [id],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      id: r.id,
      url: r.url,
      payload: await this.sealer.open('webhook_deliveries', r.payload),
      ...(r.secret ? { secret: r.secret } : {}),
      ...(r.delivered_at ? { deliveredAt: r.delivered_at } : {}),
    };
  }

  /** Records attempt `attempt` (a re-run of the same attempt number overwrites it). */
  async recordAttempt(
    deliveryId: string,
    attempt: number,
    a: { statusCode?: number; durationMs: number; error?: string },
  ): Promise<void> {
    await this.pool.query(
      `INSERT INTO webhook_attempts (delivery_id, attempt, status_code, duration_ms, error) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (delivery_id, attempt) DO UPDATE SET at = now(), status_code = EXCLUDED.status_code,
         duration_ms = EXCLUDED.duration_ms, error = EXCLUDED.error`,
      [deliveryId, attempt, a.statusCode ?? null, Math.round(a.durationMs), a.error?.slice(0, 500) ?? null],
    );
  }

  async markDelivered(id: string): Promise<void> {
    await this.pool.query(
      'UPDATE webhook_deliveries SET delivered_at = COALESCE(delivered_at, now()) WHERE id = $1',
      [id],
    );
  }

  async markGivenUp(id: string): Promise<void> {
    await this.pool.query(
      'UPDATE webhook_deliveries SET failed_at = COALESCE(failed_at, now()) WHERE id = $1 AND delivered_at IS NULL',
      [id],
    );
  }
}

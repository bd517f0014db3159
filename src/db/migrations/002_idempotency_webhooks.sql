-- Idempotency-Key (IETF httpapi idempotency-key draft): a tenant's key is bound to its request id
-- BEFORE the request's quota is reserved and its workflow started, so a retry after a lost response
-- finds the same request. 'pending' rows whose owner died are re-driven by a retry (see
-- src/idempotency/idempotent-submit.ts); rows live IDEMPOTENCY_TTL_S and are swept after.
CREATE TABLE idempotency_keys (
  tenant_id       text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  idem_key        text NOT NULL,
  endpoint        text NOT NULL,
  body_hash       text NOT NULL,
  request_id      text NOT NULL,
  state           text NOT NULL CHECK (state IN ('pending', 'started')),
  input           jsonb NOT NULL,
  response_status integer,
  response_body   jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  locked_at       timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, idem_key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

-- Per-tenant webhook endpoints (admin API); the secret is shown once, at creation.
CREATE TABLE webhook_endpoints (
  id         text PRIMARY KEY,
  tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  url        text NOT NULL,
  events     text[] NOT NULL,
  secret     text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id);

-- The signing secret of a tenant's per-request `webhook_url` targets.
CREATE TABLE webhook_request_secrets (
  tenant_id  text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  secret     text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- A request's own `webhook_url`, written at submit before its workflow starts (no FK: the request
-- row is written later, by the workflow's first activity).
CREATE TABLE request_webhooks (
  request_id text PRIMARY KEY,
  tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  url        text NOT NULL,
  events     text[] NOT NULL
);

-- One delivery of one event to one target; id = the delivery workflow id = the `webhook-id` header.
CREATE TABLE webhook_deliveries (
  id           text PRIMARY KEY,
  request_id   text NOT NULL,
  tenant_id    text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  endpoint_id  text,
  url          text NOT NULL,
  event        text NOT NULL,
  payload      jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  failed_at    timestamptz
);
CREATE INDEX webhook_deliveries_request ON webhook_deliveries (request_id);

CREATE TABLE webhook_attempts (
  delivery_id  text NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempt      integer NOT NULL,
  at           timestamptz NOT NULL DEFAULT now(),
  status_code  integer,
  duration_ms  integer NOT NULL,
  error        text,
  PRIMARY KEY (delivery_id, attempt)
);

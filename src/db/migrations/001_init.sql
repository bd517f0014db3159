-- Tiers give every tenant its default limits; tenant_limits holds per-tenant overrides (NULL = tier default).
CREATE TABLE tiers (
  name                text PRIMARY KEY,
  requests_per_minute integer NOT NULL CHECK (requests_per_minute >= 0),
  requests_per_day    integer NOT NULL CHECK (requests_per_day >= 0),
  tokens_per_day      bigint  NOT NULL CHECK (tokens_per_day >= 0),
  tokens_per_month    bigint  NOT NULL CHECK (tokens_per_month >= 0),
  max_in_flight       integer NOT NULL CHECK (max_in_flight >= 0),
  -- Temporal task priority key (1 = highest).
  priority            integer NOT NULL CHECK (priority BETWEEN 1 AND 5)
);

INSERT INTO tiers VALUES
  ('free',        60,    1000,      100000,     2000000,    4,   5),
  ('standard',   600,   50000,     5000000,   100000000,   64,   3),
  ('enterprise', 6000, 1000000,  100000000,  2000000000,  512,   1);

CREATE TABLE tenants (
  id         text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  name       text NOT NULL,
  tier       text NOT NULL REFERENCES tiers (name),
  disabled   boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenant_limits (
  tenant_id           text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  requests_per_minute integer CHECK (requests_per_minute >= 0),
  requests_per_day    integer CHECK (requests_per_day >= 0),
  tokens_per_day      bigint  CHECK (tokens_per_day >= 0),
  tokens_per_month    bigint  CHECK (tokens_per_month >= 0),
  max_in_flight       integer CHECK (max_in_flight >= 0),
  updated_at          timestamptz NOT NULL DEFAULT now()
);

-- API keys are stored as SHA-256 digests; the plaintext is shown once, at creation.
CREATE TABLE api_keys (
  id         text PRIMARY KEY,
  tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  key_hash   bytea NOT NULL UNIQUE,
  label      text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);

CREATE TABLE requests (
  id                text PRIMARY KEY,
  tenant_id         text NOT NULL REFERENCES tenants (id),
  model             text NOT NULL,
  status            text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled', 'rejected')),
  max_tokens        integer NOT NULL,
  prompt_tokens     integer NOT NULL,
  estimated_tokens  integer NOT NULL,
  completion_tokens integer,
  total_tokens      integer,
  output            text,
  finish_reason     text,
  attempts          integer NOT NULL DEFAULT 0,
  last_error        text,
  error_type        text,
  error_message     text,
  -- Quota windows are anchored at acceptance: a request reserved before midnight is charged to that day.
  accepted_at       timestamptz NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  started_at        timestamptz,
  completed_at      timestamptz,
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX requests_tenant_created ON requests (tenant_id, created_at DESC);
CREATE INDEX requests_open ON requests (tenant_id) WHERE status IN ('queued', 'running');

-- Source of truth for usage: one row per completed request.
CREATE TABLE usage_ledger (
  id                bigserial PRIMARY KEY,
  request_id        text NOT NULL UNIQUE REFERENCES requests (id),
  tenant_id         text NOT NULL REFERENCES tenants (id),
  model             text NOT NULL,
  prompt_tokens     integer NOT NULL CHECK (prompt_tokens >= 0),
  completion_tokens integer NOT NULL CHECK (completion_tokens >= 0),
  total_tokens      integer NOT NULL CHECK (total_tokens = prompt_tokens + completion_tokens),
  window_at         timestamptz NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX usage_ledger_tenant_window ON usage_ledger (tenant_id, window_at);

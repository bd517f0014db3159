-- GET /v1/inference lists a tenant's requests newest first by the keyset (accepted_at, id). This
-- index serves that order with no sort, and the cursor's row comparison as an index range.
CREATE INDEX requests_tenant_accepted ON requests (tenant_id, accepted_at DESC, id DESC);
-- The same list filtered by status (e.g. every `failed` request) without reading the others.
CREATE INDEX requests_tenant_status_accepted ON requests (tenant_id, status, accepted_at DESC, id DESC);

-- GET /admin/usage across tenants reads a time range of the ledger (per tenant: usage_ledger_tenant_window).
CREATE INDEX usage_ledger_window ON usage_ledger (window_at);

-- A key's visible, non-secret start (`sk-live-AbCd`), to tell keys apart in lists. Keys created before
-- this migration have none (''). revoked_at may lie in the future: a rotated key's grace period.
ALTER TABLE api_keys ADD COLUMN prefix text NOT NULL DEFAULT '';
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at DESC);

-- What operators did through /admin: who, what, when, on which tenant/key, with which parameters
-- (never a secret: keys appear by id and prefix only).
CREATE TABLE admin_actions (
  id        bigserial PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT now(),
  actor     text NOT NULL,
  action    text NOT NULL,
  tenant_id text,
  target    text,
  params    jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX admin_actions_tenant ON admin_actions (tenant_id, id DESC);

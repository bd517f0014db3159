-- Responses API (POST /v1/responses): what a response adds to its request. One row per response,
-- keyed by its request id (which is the response id), written once the request's quota is reserved
-- and before its request row and workflow (AcceptService's afterReserve), so the request's end finds
-- it (the OpenAI-shaped `response.*` webhook events). `request` holds the instructions and input items
-- (a prompt): sealed at rest with the payload keys like idempotency_keys.input, NULL when the response
-- was created with `store: false` or deleted. No FK to requests: that row is written after this one.
CREATE TABLE IF NOT EXISTS responses (
  request_id text PRIMARY KEY,
  tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  model      text NOT NULL,
  background boolean NOT NULL,
  store      boolean NOT NULL,
  request    jsonb,
  metadata   jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
CREATE INDEX IF NOT EXISTS responses_tenant ON responses (tenant_id);

-- Batches (POST /v1/batches): one row per batch and one per item. Items are stored here, not in the
-- batch workflow's history: the workflow reads them page by page and keeps only a cursor (next_idx).
CREATE TABLE batches (
  id           text PRIMARY KEY,
  tenant_id    text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  status       text NOT NULL CHECK (status IN ('validating', 'in_progress', 'completed', 'cancelling', 'cancelled')),
  total        integer NOT NULL CHECK (total > 0),
  concurrency  integer NOT NULL CHECK (concurrency > 0),
  created_at   timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz,
  cancel_requested_at timestamptz,
  completed_at timestamptz
);
-- GET /v1/batches: a tenant's batches, newest first.
CREATE INDEX batches_tenant_created ON batches (tenant_id, created_at DESC, id DESC);

-- One item: its request id (the child workflow id, and the requests row once admitted) and the
-- workflow input prepared at submit (validated and tokenized). `cancelled`: never started because
-- the batch was cancelled first. An item's state is its request's status, else cancelled/pending.
CREATE TABLE batch_items (
  batch_id   text NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
  idx        integer NOT NULL CHECK (idx >= 0),
  custom_id  text NOT NULL,
  request_id text NOT NULL UNIQUE,
  input      jsonb NOT NULL,
  cancelled  boolean NOT NULL DEFAULT false,
  PRIMARY KEY (batch_id, idx),
  UNIQUE (batch_id, custom_id)
);

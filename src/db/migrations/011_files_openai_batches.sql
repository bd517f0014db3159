-- Files (POST /v1/files, issue 29) and OpenAI-shaped batches on the one `batches` resource.
-- A file's bytes are kept in chunks of up to FILE_CHUNK_BYTES, written as the upload streams in and
-- read back one chunk at a time: never a whole file in memory. `data` holds a chunk in clear
-- (PAYLOAD_ENCRYPTION off); `data_sealed` holds it sealed with the payload keys (base64 of the bytes,
-- like every value sealed at rest); exactly one is set.
CREATE TABLE files (
  id         text PRIMARY KEY,
  tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  purpose    text NOT NULL CHECK (purpose IN ('batch', 'batch_output')),
  filename   text NOT NULL,
  bytes      bigint NOT NULL CHECK (bytes >= 0),
  -- Lines of a JSONL file (blank ones excluded).
  lines      integer NOT NULL CHECK (lines >= 0),
  created_at timestamptz NOT NULL DEFAULT now()
);
-- GET /v1/files: a tenant's files, newest first.
CREATE INDEX files_tenant_created ON files (tenant_id, created_at DESC, id DESC);

CREATE TABLE file_chunks (
  file_id     text NOT NULL REFERENCES files (id) ON DELETE CASCADE,
  seq         integer NOT NULL CHECK (seq >= 0),
  data        bytea,
  data_sealed jsonb,
  PRIMARY KEY (file_id, seq),
  CHECK ((data IS NULL) <> (data_sealed IS NULL))
);

-- Batches made from a file (POST /v1/batches {input_file_id, endpoint, completion_window}) share the
-- table, the items and the workflow of the inline batches; they add OpenAI's statuses and fields.
ALTER TABLE batches DROP CONSTRAINT batches_status_check;
ALTER TABLE batches ADD CONSTRAINT batches_status_check CHECK (status IN
  ('validating', 'in_progress', 'finalizing', 'completed', 'failed', 'expired', 'cancelling', 'cancelled'));
-- A file whose every line is invalid makes a `failed` batch with no item.
ALTER TABLE batches DROP CONSTRAINT batches_total_check;
ALTER TABLE batches ADD CONSTRAINT batches_total_check CHECK (total >= 0);
ALTER TABLE batches
  ADD COLUMN endpoint          text NOT NULL DEFAULT '/v1/inference',
  -- No foreign key: deleting a file leaves the batches made from it (as OpenAI does).
  ADD COLUMN input_file_id     text,
  ADD COLUMN output_file_id    text,
  ADD COLUMN error_file_id     text,
  ADD COLUMN metadata          jsonb,
  ADD COLUMN completion_window text,
  ADD COLUMN expires_at        timestamptz,
  -- Set by the expiry sweep with `cancelling`: the batch ends `expired`, not `cancelled`.
  ADD COLUMN expire_requested  boolean NOT NULL DEFAULT false,
  ADD COLUMN finalizing_at     timestamptz,
  -- Lines of the input file refused at create (kept in batch_line_errors, reported in the error file).
  ADD COLUMN invalid_lines     integer NOT NULL DEFAULT 0;
-- The expiry sweep: open batches past their window.
CREATE INDEX batches_expiring ON batches (expires_at)
  WHERE expires_at IS NOT NULL AND status IN ('validating', 'in_progress');

-- One invalid line of a batch's input file: its 0-based line, its custom_id when it had one, and
-- why (a code and a message naming the field; never the line's content).
CREATE TABLE batch_line_errors (
  batch_id  text NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
  line      integer NOT NULL CHECK (line >= 0),
  custom_id text,
  code      text NOT NULL,
  message   text NOT NULL,
  PRIMARY KEY (batch_id, line)
);

-- The outbox of workflow starts: the workflow input of each request acknowledged before its workflow
-- started (its payload as Temporal would store it: encrypted when payload encryption is on). Written
-- in the same statement as the request row, deleted once the workflow has started; a row still here
-- after a while is started by the API's recovery sweep. A table of its own, so that dropping an
-- input does not rewrite the request row and every index on it.
CREATE TABLE pending_starts (
  request_id  text PRIMARY KEY,
  accepted_at timestamptz NOT NULL,
  input       jsonb NOT NULL
);
CREATE INDEX pending_starts_accepted ON pending_starts (accepted_at);

-- An unreleased draft of this migration kept the input in a column of requests.
ALTER TABLE requests DROP COLUMN IF EXISTS start_input;

-- The generated output and the error messages (a model service's error may quote the prompt),
-- sealed at rest with the payload keys (PAYLOAD_KEYS) as Temporal history keeps them: written
-- instead of `output`, `last_error` and `error_message` when payload encryption is on. Those keep
-- the values written in clear (encryption off, or before this version); readers take whichever is
-- set. Nullable columns without default: adding them rewrites nothing.
ALTER TABLE requests
  ADD COLUMN IF NOT EXISTS output_sealed jsonb,
  ADD COLUMN IF NOT EXISTS last_error_sealed jsonb,
  ADD COLUMN IF NOT EXISTS error_message_sealed jsonb;

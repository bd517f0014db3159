-- The generated output sealed at rest with the payload keys (PAYLOAD_KEYS), as Temporal history
-- keeps it: written instead of `output` when payload encryption is on. `output` keeps the values
-- written in clear (encryption off, or before this version); readers take whichever is set. A
-- nullable column without default: adding it rewrites nothing.
ALTER TABLE requests ADD COLUMN IF NOT EXISTS output_sealed jsonb;

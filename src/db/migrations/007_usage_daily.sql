-- Per-tenant daily sums of the usage ledger, kept by the database itself (a trigger), so that the
-- quota audit and the rebuild of a tenant's Redis counters read a month of usage as at most 31 x 8
-- rows instead of every ledger row of the month (about 86 M rows a day at 1,000 requests/s).
-- The ledger stays the source of truth: each row of usage_ledger is added here in the transaction
-- that writes it, whatever code (or person) writes it, so the two always agree within a snapshot.
-- Eight rows per tenant and day (`shard`, from the ledger row's id) so that concurrent completions of
-- one tenant do not all wait for the lock of one row.
CREATE TABLE usage_daily (
  tenant_id text     NOT NULL,
  day       date     NOT NULL,
  shard     smallint NOT NULL,
  requests  bigint   NOT NULL,
  tokens    bigint   NOT NULL,
  PRIMARY KEY (tenant_id, day, shard)
);

-- No ledger row may be written between the backfill below and the trigger: the lock keeps them out
-- until this transaction commits. On a large ledger the migration holds completions back that long
-- (they retry), and so does building the index at the end.
LOCK TABLE usage_ledger IN SHARE ROW EXCLUSIVE MODE;

CREATE FUNCTION usage_daily_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE usage_daily SET requests = requests - 1, tokens = tokens - OLD.total_tokens
    WHERE tenant_id = OLD.tenant_id AND day = (OLD.window_at AT TIME ZONE 'UTC')::date
      AND shard = (OLD.id % 8)::smallint;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO usage_daily AS d (tenant_id, day, shard, requests, tokens)
    VALUES (NEW.tenant_id, (NEW.window_at AT TIME ZONE 'UTC')::date, (NEW.id % 8)::smallint, 1,
            NEW.total_tokens)
    ON CONFLICT (tenant_id, day, shard)
    DO UPDATE SET requests = d.requests + 1, tokens = d.tokens + EXCLUDED.tokens;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER usage_daily_rows AFTER INSERT OR UPDATE OR DELETE ON usage_ledger
  FOR EACH ROW EXECUTE FUNCTION usage_daily_apply();

CREATE FUNCTION usage_daily_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE usage_daily;
  RETURN NULL;
END $$;

CREATE TRIGGER usage_daily_cleared AFTER TRUNCATE ON usage_ledger
  FOR EACH STATEMENT EXECUTE FUNCTION usage_daily_truncate();

-- Rows already in the ledger.
INSERT INTO usage_daily (tenant_id, day, shard, requests, tokens)
SELECT tenant_id, (window_at AT TIME ZONE 'UTC')::date, (id % 8)::smallint, count(*), sum(total_tokens)
FROM usage_ledger GROUP BY 1, 2, 3;

-- The audit's rows whose Redis commit may still be pending: those written in the last minutes.
CREATE INDEX usage_ledger_tenant_created ON usage_ledger (tenant_id, created_at);

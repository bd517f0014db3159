-- Daily sums of the usage ledger per tenant and model, kept by the database itself (a trigger), so
-- that the quota audit, the rebuild of a tenant's Redis counters and the usage API (GET /v1/usage,
-- up to 400 days, which any tenant may ask for) read per-day sums instead of every ledger row of the
-- range (about 86 M rows a day at 1,000 requests/s).
-- The ledger stays the source of truth: each row of usage_ledger is added here in the transaction
-- that writes it, whatever code (or person) writes it, so the two always agree within a snapshot.
-- Eight rows per tenant, day and model (`shard`, from the ledger row's id) so that concurrent
-- completions of one tenant do not all wait for the lock of one row.
CREATE TABLE usage_daily (
  tenant_id         text     NOT NULL,
  day               date     NOT NULL,
  model             text     NOT NULL,
  shard             smallint NOT NULL,
  requests          bigint   NOT NULL,
  prompt_tokens     bigint   NOT NULL,
  completion_tokens bigint   NOT NULL,
  total_tokens      bigint   NOT NULL,
  PRIMARY KEY (tenant_id, day, model, shard)
);
-- Usage of every tenant (GET /admin/usage without a tenant).
CREATE INDEX usage_daily_day ON usage_daily (day);

-- No ledger row may be written between the backfill below and the trigger: the lock keeps them out
-- until this transaction commits. On a large ledger the migration holds completions back that long
-- (they retry), and so does building the index at the end.
LOCK TABLE usage_ledger IN SHARE ROW EXCLUSIVE MODE;

CREATE FUNCTION usage_daily_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE usage_daily
    SET requests = requests - 1, prompt_tokens = prompt_tokens - OLD.prompt_tokens,
        completion_tokens = completion_tokens - OLD.completion_tokens,
        total_tokens = total_tokens - OLD.total_tokens
    WHERE tenant_id = OLD.tenant_id AND day = (OLD.window_at AT TIME ZONE 'UTC')::date
      AND model = OLD.model AND shard = (OLD.id % 8)::smallint;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO usage_daily AS d
      (tenant_id, day, model, shard, requests, prompt_tokens, completion_tokens, total_tokens)
    VALUES (NEW.tenant_id, (NEW.window_at AT TIME ZONE 'UTC')::date, NEW.model, (NEW.id % 8)::smallint,
            1, NEW.prompt_tokens, NEW.completion_tokens, NEW.total_tokens)
    ON CONFLICT (tenant_id, day, model, shard)
    DO UPDATE SET requests = d.requests + 1, prompt_tokens = d.prompt_tokens + EXCLUDED.prompt_tokens,
      completion_tokens = d.completion_tokens + EXCLUDED.completion_tokens,
      total_tokens = d.total_tokens + EXCLUDED.total_tokens;
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
INSERT INTO usage_daily
  (tenant_id, day, model, shard, requests, prompt_tokens, completion_tokens, total_tokens)
SELECT tenant_id, (window_at AT TIME ZONE 'UTC')::date, model, (id % 8)::smallint, count(*),
       sum(prompt_tokens), sum(completion_tokens), sum(total_tokens)
FROM usage_ledger GROUP BY 1, 2, 3, 4;

-- The audit's rows whose Redis commit may still be pending: those written in the last minutes.
CREATE INDEX usage_ledger_tenant_created ON usage_ledger (tenant_id, created_at);

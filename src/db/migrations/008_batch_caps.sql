-- Batch caps per tenant (issue 26): a batch keeps the tokens its items will reserve (prompt +
-- max_tokens each), so the tokens, items and batches a tenant has enqueued and not finished can be
-- summed at create without reading the items.
ALTER TABLE batches ADD COLUMN estimated_tokens bigint NOT NULL DEFAULT 0;
-- The in-flight sums: a tenant's batches that have not ended.
CREATE INDEX batches_tenant_open ON batches (tenant_id)
  WHERE status IN ('validating', 'in_progress', 'cancelling');

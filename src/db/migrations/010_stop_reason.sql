-- Reservation in slices: why this service stopped a generation that the model did not stop
-- ('quota_exhausted': the tenant's token limits refused the next slice; finish_reason is 'length').
-- NULL when the model stopped it.
ALTER TABLE requests ADD COLUMN stop_reason text;

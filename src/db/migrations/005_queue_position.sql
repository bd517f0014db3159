-- Queue position of a waiting request (GET /v1/inference/:id): requests of the same GPU queue's
-- models still waiting, accepted earlier. Partial, so it holds only the (short) waiting line.
CREATE INDEX requests_waiting ON requests (model, accepted_at) WHERE status = 'queued';

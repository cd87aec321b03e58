-- "Run now" with an Idempotency-Key (as every action takes one): a client or proxy that repeats
-- the request gets the run the first one made instead of a second send. Only manual runs carry
-- a key; the index holds only them.
ALTER TABLE schedule_runs ADD COLUMN idempotency_key text;
CREATE UNIQUE INDEX schedule_runs_by_key ON schedule_runs (project_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Runs a service stopped in the middle of sending (recorded 'sending', never finished): the
-- scheduler marks them failed after a while (schedules/runs.ts failAbandonedRuns). Few, if any.
CREATE INDEX schedule_runs_sending ON schedule_runs (fired_at) WHERE state = 'sending';

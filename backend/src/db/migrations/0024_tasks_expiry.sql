-- When a task's message expires (Celery's `expires`, an RQ job's ttl), kept in its row so that a
-- task whose expiry passed while it waited can be found and marked expired
-- (ingest/expirySweep.ts): RQ deletes such a job without a word, so nothing else ever would.
-- Nullable, no default: no rewrite of the table. Alone in its migration (its own transaction):
-- ADD COLUMN locks the table against reads too, for an instant only if nothing slow follows it
-- before the commit (the fill and the index are 0026).
ALTER TABLE tasks ADD COLUMN expires_at timestamptz;

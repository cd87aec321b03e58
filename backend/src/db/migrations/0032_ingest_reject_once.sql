-- A refused input is kept once, whichever replica read it. Celery over Redis is read by every
-- replica (pub/sub: each gets every event), and each kept its own copy of the same refused
-- event; an agent batch delivered again after a crash did the same. The key is a hash of the
-- source, the reason and the sample as stored; rows from before it have none (NULLs never clash).
ALTER TABLE ingest_rejects ADD COLUMN sample_key text;
CREATE UNIQUE INDEX ingest_rejects_once ON ingest_rejects (sample_key);

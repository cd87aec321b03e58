-- What agents add to a worker's heartbeat: its concurrency (pool size, threads, jobs) and how
-- many events its bounded buffer dropped (so a user sees when the timeline may have gaps).
ALTER TABLE workers ADD COLUMN concurrency int;
ALTER TABLE workers ADD COLUMN dropped bigint;

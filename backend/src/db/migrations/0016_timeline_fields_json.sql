-- An event's fields are kept as json, not jsonb. They are written once, by the ingest writer
-- (COPY, every event), and read back whole (the task's timeline, a refold); nothing queries
-- inside them. jsonb parses each value into its binary form on the way in, for operators and
-- indexes the timeline never uses: ≈ 2.4 µs of PostgreSQL CPU per event, 8% of the database's
-- cost per Celery event (the writer's harness, three interleaved pairs; BENCHMARKS.md). json
-- only checks the syntax and keeps the text as the writer made it (keys in the event's order).
-- Rewrites every partition once: on a large timeline this migration takes a while.
ALTER TABLE task_events ALTER COLUMN fields TYPE json USING fields::json;

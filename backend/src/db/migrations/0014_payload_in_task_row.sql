-- The sealed retry payload moves from its own table into the task's row. As a table of its own
-- it cost a second row and a second unique index keyed by a random task id for every task: ≈ 20
-- µs of PostgreSQL CPU per task, a quarter of the agent stream's database cost per event
-- (BENCHMARKS.md). As a column it is written with the row the task's first event creates.
-- Stored out of line when large, never compressed: sealed bytes do not compress, so PostgreSQL's
-- attempt would be wasted work. No read API selects it (api/taskQueries.ts lists its columns).
ALTER TABLE tasks ADD COLUMN sealed_payload bytea;
ALTER TABLE tasks ALTER COLUMN sealed_payload SET STORAGE EXTERNAL;

UPDATE tasks t SET sealed_payload = p.sealed
  FROM task_payloads p
 WHERE t.project_id = p.project_id AND t.engine = p.engine AND t.task_id = p.task_id;
DROP TABLE task_payloads;

CREATE OR REPLACE FUNCTION z4j_delete_project_ingest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM tasks WHERE project_id = OLD.id;
  DELETE FROM task_events WHERE project_id = OLD.id;
  RETURN OLD;
END $$;

-- The ingest inserts tens of thousands of task and payload rows a second. A foreign key to
-- projects runs a trigger per inserted row that key-share locks the project's row; with two
-- writers locking the same row at once, each lock becomes a multixact. Measured on the writer
-- alone: 6–7 µs of PostgreSQL CPU per event, about 15% of its whole cost (BENCHMARKS.md).
-- The writer key-share locks a batch's projects once per transaction instead (batchWriter.ts
-- holdProjects), and the timeline (task_events) never had a foreign key; deleting a project
-- still removes its tasks, payloads and timeline, by one statement per table from a trigger on
-- projects, not a check per row.
ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_project_id_fkey;
ALTER TABLE task_payloads DROP CONSTRAINT IF EXISTS task_payloads_project_id_fkey;

CREATE FUNCTION z4j_delete_project_ingest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM tasks WHERE project_id = OLD.id;
  DELETE FROM task_payloads WHERE project_id = OLD.id;
  DELETE FROM task_events WHERE project_id = OLD.id;
  RETURN OLD;
END $$;

CREATE TRIGGER projects_delete_ingest AFTER DELETE ON projects
  FOR EACH ROW EXECUTE FUNCTION z4j_delete_project_ingest();

-- The timeline is found by its task's row id (tasks.id) instead of the task id. A task id is
-- random (a uuid for most engines), so every event inserted into an index on it landed on a
-- different leaf page; the row id grows with each new task, so a new task's events go to the
-- index's right edge, and a running task's to pages near it, already in memory. Measured on
-- 600,000 COPYed events: 7.8–8.8 → 5.2–5.5 µs of PostgreSQL CPU per event, an index a fifth the
-- size (BENCHMARKS.md). The writer knows the row id: it creates or locks a task's row before
-- writing its events (ingest/batchWriter.ts). task_id stays, so a row still says whose it is.
ALTER TABLE task_events ADD COLUMN task_ref bigint;
UPDATE task_events e SET task_ref = t.id
  FROM tasks t
 WHERE t.project_id = e.project_id AND t.engine = e.engine AND t.task_id = e.task_id;
-- Events whose task row is gone (none are expected: the writer stores both in one transaction).
DELETE FROM task_events WHERE task_ref IS NULL;
ALTER TABLE task_events ALTER COLUMN task_ref SET NOT NULL;
DROP INDEX task_events_by_task;
CREATE INDEX task_events_by_task_ref ON task_events (task_ref);

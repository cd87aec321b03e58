-- How many `retried` events a task has had: Celery's task-retried does not name the attempt it
-- closes, and a retry with no countdown can be received and started before it arrives
-- (ingest/taskState.ts). Null for rows stored before: the fold then assumes every earlier
-- attempt closed, as it did. No default, no rewrite of the table.
ALTER TABLE tasks ADD COLUMN retried_count int;

-- Fewer index entries per ingested event (BENCHMARKS.md, "Celery event ingest"). Indexes keyed
-- by a random id (a task uuid) cost the most per insert: every insert lands on a different
-- leaf page. Measured on the ingest path (PostgreSQL backend CPU per event) each was worth
-- several microseconds, a sizeable share of the whole.

-- The timeline had two indexes, (event_id, occurred_at) for idempotency and (task_id) for the
-- task's timeline. One does both: an event id is only ever repeated for the same event of the
-- same task, so (task_id, event_id, occurred_at) refuses exactly the same duplicates, and its
-- leading task_id serves the timeline and the Celery enqueue merge.
ALTER TABLE task_events DROP CONSTRAINT task_events_event_id_occurred_at_key;
DROP INDEX task_events_by_task;
ALTER TABLE task_events ADD CONSTRAINT task_events_once UNIQUE (task_id, event_id, occurred_at);

-- Celery names a top-level task its own root: those need no entry, the workflow query finds
-- the root by its id and the rest of the workflow by root_id (taskGraph.ts).
DROP INDEX tasks_by_root;
CREATE INDEX tasks_by_root ON tasks (project_id, root_id) WHERE root_id IS NOT NULL AND root_id <> task_id;

-- Succeeded is most tasks: filtering for it walks tasks_recent and keeps most rows it sees, so
-- the state index holds only the states worth finding among many (failed, retried, pending…).
DROP INDEX tasks_by_state;
CREATE INDEX tasks_by_state ON tasks (project_id, state, first_seen_at DESC, id DESC) WHERE state <> 'succeeded';

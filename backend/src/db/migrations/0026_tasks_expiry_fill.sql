-- Tasks waiting now take their expiry from their timeline (the newest event that has one), so
-- that those which expired before 0024 are found too. An expiry that is not a time is left out,
-- as the ingest leaves it out. Reads the timeline of every waiting task once. Apart from 0024's
-- ADD COLUMN: the fill locks only the rows it updates, and the index build holds off writes to
-- the table (as 0020's and 0022's), never reads.
CREATE FUNCTION pg_temp.z4j_time_or_null(s text) RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN
  RETURN s::timestamptz;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;

UPDATE tasks t SET expires_at = x.at
  FROM (SELECT DISTINCT ON (e.task_ref) e.task_ref AS ref, pg_temp.z4j_time_or_null(e.fields->>'expires') AS at
          FROM tasks w JOIN task_events e ON e.task_ref = w.id
         WHERE w.state IN ('enqueued', 'received') AND e.fields->>'expires' IS NOT NULL
         ORDER BY e.task_ref, e.occurred_at DESC) x
 WHERE t.id = x.ref AND x.at IS NOT NULL;

DROP FUNCTION pg_temp.z4j_time_or_null(text);

-- Only the tasks the sweep looks for: waiting, with an expiry. A task without one, or once it
-- started or ended, has no entry, so the ingest maintains this index only for the (few) tasks
-- sent with an expiry, while they wait.
CREATE INDEX tasks_expiring ON tasks (expires_at) WHERE expires_at IS NOT NULL AND state IN ('enqueued', 'received');

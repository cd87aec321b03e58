-- The explorer's on-call questions pair a state with a name or a queue: "what of X failed",
-- "what waits in queue Y". With one index per filter the planner walks the name's (or queue's)
-- index newest first and filters the state: a name with no failures made it read every row of
-- that name (30,000 rows, 0.24 s, in a 3M-task table; in proportion beyond). These pairs find
-- the rows at once. Partial, as tasks_by_state: settled successes, most rows, are not in them,
-- so they stay small (3% of tasks_by_name's size there).
CREATE INDEX tasks_by_name_state  ON tasks (project_id, name, state, first_seen_at, id) WHERE state <> 'succeeded';
CREATE INDEX tasks_by_queue_state ON tasks (project_id, queue, state, first_seen_at, id) WHERE state <> 'succeeded';

-- The planner multiplies a name's share by a state's as if they were independent, so a name
-- that never fails looks as if its failures were near at hand newest first, and it keeps the
-- walk above. Which names and queues fail is exactly what is not independent: the statistics of
-- the pairs (read by ANALYZE only, nothing on the write path) let it see that.
CREATE STATISTICS tasks_name_state (mcv) ON project_id, name, state FROM tasks;
CREATE STATISTICS tasks_queue_state (mcv) ON project_id, queue, state FROM tasks;

-- A queue action's task events (a purge's revocations, a requeue's enqueues), kept until the
-- pipeline has committed them: a purge of a million messages takes the pipeline a minute, and a
-- service stopped meanwhile must not leave those tasks enqueued for ever. Rows of up to 10,000
-- tasks; a row is deleted once all its events are committed, and a service (any replica)
-- records what is left when it starts (actions/followups.ts).
CREATE TABLE command_followups (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  command_id     bigint NOT NULL REFERENCES commands (id) ON DELETE CASCADE,
  kind           text NOT NULL CHECK (kind IN ('revoked', 'enqueued')),
  occurred_at    timestamptz NOT NULL,
  -- The fields every task of the row gets (queue, reason, the name a filtered purge matched).
  fields         jsonb NOT NULL,
  -- The position of the row's first task in its command: event ids are z4j-command-<id>-<kind>-<n>.
  first_index    int NOT NULL,
  task_ids       text[] NOT NULL,
  -- Each task's attempt (a requeue's rerun, a purge's mark); null where the events name none.
  attempts       int[],
  -- A replica recording the row holds it until then (renewed while it works); null: free.
  claimed_until  timestamptz
);
CREATE INDEX command_followups_by_command ON command_followups (command_id);

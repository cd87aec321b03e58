-- Schedules (docs/schedules.md): "send task T with args A / kwargs K to queue Q of engine E on
-- cron C in time zone Z", fired by the service's scheduler (schedules/scheduler.ts), and the
-- record of each time one fired.

CREATE TABLE schedules (
  id              text PRIMARY KEY,                -- 'sch_' + random
  project_id      int NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name            text NOT NULL,
  engine          text NOT NULL,
  task_name       text NOT NULL,
  -- What the API shows: the call redacted. The exact call is sealed_call (AES-256-GCM, as task
  -- payloads, bound to its row by the additional data `schedule-call:<project id>:<id>`): never
  -- returned by any read.
  args_display    jsonb NOT NULL DEFAULT '[]',
  kwargs_display  jsonb NOT NULL DEFAULT '{}',
  sealed_call     bytea NOT NULL,
  queue           text,                            -- null: the engine's default queue
  cron            text NOT NULL,
  timezone        text NOT NULL DEFAULT 'UTC',
  enabled         boolean NOT NULL DEFAULT true,
  next_run_at     timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  created_by      text NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  updated_by      text NOT NULL,
  UNIQUE (project_id, name),
  CHECK (enabled OR next_run_at IS NULL)
);
-- What the scheduler reads every few seconds: the enabled schedules that are due.
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE enabled;
-- The list, newest first by (created_at, id) (api/keyset.ts). Ascending, as the other lists'
-- (0013, 0025): a new row goes to the end, pages read with a backward scan.
CREATE INDEX schedules_recent ON schedules (project_id, created_at, id);

-- One row each time a schedule fired (its cron, or "run now"). `state` is where the send got to:
-- a run left 'sending' is one the service died in the middle of (at most once: never re-sent).
CREATE TABLE schedule_runs (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  schedule_id   text NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
  project_id    int NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  trigger       text NOT NULL CHECK (trigger IN ('cron', 'manual')),
  due_at        timestamptz,                       -- the cron time it was for; null for a manual run
  fired_at      timestamptz NOT NULL DEFAULT now(),
  requested_by  text,                              -- who asked for a manual run
  state         text NOT NULL CHECK (state IN ('sending', 'sent', 'dispatched', 'failed')),
  task_id       text,
  command_id    bigint REFERENCES commands (id) ON DELETE SET NULL,
  missed        int NOT NULL DEFAULT 0,            -- cron times skipped (the service was down)
  error         text
);
-- A schedule's runs, newest first (its last run, and its paged list).
CREATE INDEX schedule_runs_recent ON schedule_runs (schedule_id, fired_at, id);

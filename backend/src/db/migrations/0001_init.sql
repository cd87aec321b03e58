-- The spine: projects, tasks, their event timeline, workers, queues, and rejected input.

CREATE TABLE projects (
  id          int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO projects (slug, name) VALUES ('default', 'Default');

-- Identifiers and names compare byte-wise (COLLATE "C"): they are not prose, and byte
-- comparison keeps the hot-path indexes cheap.

-- One row per (project, engine, task id): the task's current, folded state.
-- `attempt`, `attempt_at` and `state_at` let the ingest fold order late and duplicated events.
CREATE TABLE tasks (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id     int NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  engine         text COLLATE "C" NOT NULL,
  task_id        text COLLATE "C" NOT NULL,
  name           text COLLATE "C",
  queue          text COLLATE "C",
  state          text NOT NULL,
  attempt        int NOT NULL DEFAULT 0,
  attempt_at     timestamptz NOT NULL,
  state_at       timestamptz NOT NULL,
  args           jsonb,
  kwargs         jsonb,
  result         jsonb,
  exception      text,
  traceback      text,
  worker         text COLLATE "C",
  retries        int NOT NULL DEFAULT 0,
  root_id        text COLLATE "C",
  parent_id      text COLLATE "C",
  group_id       text COLLATE "C",
  eta            timestamptz,
  sent_at        timestamptz,
  received_at    timestamptz,
  started_at     timestamptz,
  finished_at    timestamptz,
  runtime_ms     double precision,
  wait_ms        double precision,
  first_seen_at  timestamptz NOT NULL,
  last_event_at  timestamptz NOT NULL,
  UNIQUE (project_id, engine, task_id)
);
-- The explorer lists newest first and pages by (first_seen_at, id); each filter has its own path.
CREATE INDEX tasks_recent      ON tasks (project_id, first_seen_at DESC, id DESC);
CREATE INDEX tasks_by_state    ON tasks (project_id, state, first_seen_at DESC, id DESC);
CREATE INDEX tasks_by_name     ON tasks (project_id, name, first_seen_at DESC, id DESC);
CREATE INDEX tasks_by_queue    ON tasks (project_id, queue, first_seen_at DESC, id DESC);
CREATE INDEX tasks_by_worker   ON tasks (project_id, worker, first_seen_at DESC, id DESC);
CREATE INDEX tasks_by_root     ON tasks (project_id, root_id) WHERE root_id IS NOT NULL;
CREATE INDEX tasks_by_parent   ON tasks (project_id, parent_id) WHERE parent_id IS NOT NULL;
-- No trigram index for free text: maintaining one on every task write cut ingest
-- throughput by more than half (BENCHMARKS.md). Free text filters rows while walking one
-- of the indexes above, so it is cheap within a time range or with another filter.

-- Append-only timeline, one partition per day (created ahead by the service), plus a
-- default partition for stragglers far in the past or future.
CREATE TABLE task_events (
  project_id   int NOT NULL,
  engine       text COLLATE "C" NOT NULL,
  task_id      text COLLATE "C" NOT NULL,
  event_id     text COLLATE "C" NOT NULL,
  kind         text NOT NULL,
  occurred_at  timestamptz NOT NULL,
  worker       text,
  fields       jsonb NOT NULL DEFAULT '{}',
  UNIQUE (event_id, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE TABLE task_events_default PARTITION OF task_events DEFAULT;
-- Task ids are all but unique: the timeline query narrows project and engine after this.
CREATE INDEX task_events_by_task ON task_events (task_id);

CREATE TABLE workers (
  project_id     int NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  engine         text NOT NULL,
  hostname       text NOT NULL,
  online         boolean NOT NULL,
  first_seen_at  timestamptz NOT NULL,
  last_seen_at   timestamptz NOT NULL,
  offline_at     timestamptz,
  heartbeat_s    double precision,
  active         int,
  processed      bigint,
  loadavg        jsonb,
  pid            int,
  software       text,
  PRIMARY KEY (project_id, engine, hostname)
);

CREATE TABLE queues (
  project_id     int NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  engine         text NOT NULL,
  name           text NOT NULL,
  first_seen_at  timestamptz NOT NULL,
  last_seen_at   timestamptz NOT NULL,
  depth          bigint,
  depth_at       timestamptz,
  PRIMARY KEY (project_id, engine, name)
);

-- Input the pipeline refused, kept (cut short) for inspection instead of silently lost.
CREATE TABLE ingest_rejects (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  received_at  timestamptz NOT NULL DEFAULT now(),
  source       text NOT NULL,
  reason       text NOT NULL,
  sample       text
);
CREATE INDEX ingest_rejects_recent ON ingest_rejects (received_at DESC);

-- Actions: every command a user asks for, with its outcome, and the links retries create.

-- One row per requested action. The idempotency key makes a double click or a client retry
-- return the first command instead of acting twice.
CREATE TABLE commands (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id       int NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  idempotency_key  text NOT NULL,
  kind             text NOT NULL,              -- task.retry, task.cancel, queue.purge, worker.pool_grow, …
  engine           text NOT NULL,
  target           text NOT NULL,              -- task id, queue name or worker hostname
  args             jsonb NOT NULL DEFAULT '{}',
  state            text NOT NULL CHECK (state IN ('pending', 'dispatched', 'succeeded', 'failed', 'timed_out')),
  outcome          jsonb,
  requested_by     text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project_id, idempotency_key)
);
-- The reconciler looks at unfinished commands only.
CREATE INDEX commands_open ON commands (state, created_at) WHERE state IN ('pending', 'dispatched');
CREATE INDEX commands_by_target ON commands (project_id, engine, target, created_at DESC);

-- "Retried as" / "retry of": a retry from z4j is a new task linked to the original.
CREATE TABLE task_retries (
  project_id        int NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  engine            text COLLATE "C" NOT NULL,
  original_task_id  text COLLATE "C" NOT NULL,
  new_task_id       text COLLATE "C" NOT NULL,
  command_id        bigint NOT NULL REFERENCES commands (id) ON DELETE CASCADE,
  created_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, engine, new_task_id)
);
CREATE INDEX task_retries_by_original ON task_retries (project_id, engine, original_task_id);

-- The exact payload a retry re-sends, sealed (AES-256-GCM, crypto/seal.ts; bound to its row by
-- the additional data `task-payload:<project id>:<engine>:<task id>`). Never returned by any
-- read API. Written by ingest from the agent's first event of a task; first write wins.
CREATE TABLE IF NOT EXISTS task_payloads (
  project_id  int NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  engine      text COLLATE "C" NOT NULL,
  task_id     text COLLATE "C" NOT NULL,
  sealed      bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, engine, task_id)
);

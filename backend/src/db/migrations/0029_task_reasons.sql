-- Why z4j sent a task that its agent reports enqueued: a retry or a schedule's run sent through
-- the agent command channel (Huey, arq: the agent enqueues it in a worker, and its engine hooks
-- report the enqueue, without a word of z4j's). A task sent straight to the broker carries its
-- reason on z4j's own enqueued event instead. Read with the task's detail only (getTask shows it
-- on the task's first enqueued event), never at ingest; written before the command is sent.
CREATE TABLE task_reasons (
  project_id  int NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  engine      text COLLATE "C" NOT NULL,
  task_id     text COLLATE "C" NOT NULL,
  reason      text NOT NULL,
  command_id  bigint NOT NULL REFERENCES commands (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, engine, task_id)
);

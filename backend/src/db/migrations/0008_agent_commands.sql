-- The agent command channel (docs/agent-protocol.md, "Commands"): workers whose agent takes
-- commands, as their online / heartbeat events announce it. Which agent speaks for the worker
-- (its secret signs the commands sent to it), the actions it can run, the queues it serves.
CREATE TABLE agent_workers (
  project_id    int NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  engine        text NOT NULL,
  worker        text NOT NULL,
  agent_id      text COLLATE "C" NOT NULL,
  actions       text[] NOT NULL,
  queues        text[] NOT NULL DEFAULT '{}',
  last_seen_at  timestamptz NOT NULL,
  PRIMARY KEY (project_id, engine, worker)
);

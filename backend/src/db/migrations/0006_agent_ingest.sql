-- Agent delivery: batch nonces already accepted (replays are refused; a stream entry the
-- service committed but could not acknowledge before a crash is recognised as delivered),
-- and what each agent last reported about itself.
CREATE TABLE agent_batches (
  agent_id     text COLLATE "C" NOT NULL,
  nonce        text COLLATE "C" NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, nonce)
);
CREATE INDEX agent_batches_by_time ON agent_batches (received_at);

CREATE TABLE agent_status (
  agent_id      text COLLATE "C" PRIMARY KEY,
  project_id    int NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  transport     text NOT NULL,
  last_seen_at  timestamptz NOT NULL,
  last_seq      bigint,
  -- The agent's own drop counter (events its bounded buffer let go), as last reported.
  dropped       bigint NOT NULL DEFAULT 0,
  batches       bigint NOT NULL DEFAULT 0
);

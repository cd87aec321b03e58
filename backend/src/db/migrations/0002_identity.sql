-- Identity and trust: project settings, memberships, invitations, API tokens, agent
-- credentials, and the per-project HMAC-chained audit log.

-- role_mapping: how Grafana roles and teams map to project roles (null: the default mapping).
-- A deleted project keeps its row (and its audit chain); it just stops answering.
ALTER TABLE projects
  ADD COLUMN role_mapping jsonb,
  ADD COLUMN deleted_at timestamptz;

-- Explicit memberships, bound to a Grafana user id; they override the mapping.
CREATE TABLE memberships (
  project_id  int NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  user_id     bigint NOT NULL,
  login       text NOT NULL,
  email       text,
  name        text,
  role        text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin', 'owner')),
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, user_id)
);

-- Single-use invitation links: only the sha256 of the token is kept.
CREATE TABLE invitations (
  id                   text PRIMARY KEY,
  project_id           int NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  email                text NOT NULL,
  role                 text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin', 'owner')),
  token_hash           bytea NOT NULL UNIQUE,
  invited_by           text NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT now(),
  expires_at           timestamptz NOT NULL,
  accepted_at          timestamptz,
  accepted_by_user_id  bigint,
  revoked_at           timestamptz
);
CREATE INDEX invitations_by_inviter ON invitations (project_id, invited_by, created_at);

-- API tokens for automation: sha256 of a 256-bit random token, one project, one role.
CREATE TABLE api_tokens (
  id            text PRIMARY KEY,
  project_id    int NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name          text NOT NULL,
  role          text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  token_hash    bytea NOT NULL UNIQUE,
  created_by    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  revoked_at    timestamptz,
  last_used_at  timestamptz
);

-- Agent credentials. Secrets are sealed (AES-256-GCM), not hashed: batch HMACs need them.
-- During a rotation's overlap window an agent has two live secrets.
CREATE TABLE agents (
  id          text PRIMARY KEY,
  project_id  int NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name        text NOT NULL,
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE TABLE agent_secrets (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  agent_id       text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  secret_sealed  bytea NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz
);
CREATE INDEX agent_secrets_by_agent ON agent_secrets (agent_id);

-- The audit chain. Each row's mac = HMAC-SHA256(key[key_id], canonical content || previous
-- mac). audit_chain holds, per project, the chain head (last seq and mac) and the pruning
-- watermark (last pruned seq and its mac), itself MAC'd: a truncated tail, a forged head or
-- a pruned chain without its watermark all fail verification. Appends lock the head row,
-- so a project's chain never forks.
CREATE TABLE audit_chain (
  project_id           int PRIMARY KEY REFERENCES projects (id),
  last_seq             bigint NOT NULL DEFAULT 0,
  last_mac             bytea,
  pruned_through_seq   bigint NOT NULL DEFAULT 0,
  pruned_mac           bytea,
  key_id               int,
  head_mac             bytea,
  updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_log (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id     int NOT NULL REFERENCES projects (id),
  seq            bigint NOT NULL,
  at             timestamptz NOT NULL,
  actor_kind     text NOT NULL,
  actor_id       text,
  actor_name     text,
  action         text NOT NULL,
  target         text,
  outcome        text NOT NULL CHECK (outcome IN ('ok', 'refused', 'error')),
  detail         jsonb,
  ip             text,
  forwarded_for  text,
  request_id     text,
  key_id         int NOT NULL,
  mac            bytea NOT NULL,
  UNIQUE (project_id, seq)
);
CREATE INDEX audit_log_by_time ON audit_log (project_id, at);

-- Append-only: UPDATE, DELETE and TRUNCATE are refused. The one exception is the retention
-- pruner, which deletes old rows inside a transaction that first runs
-- `SET LOCAL z4j.audit_prune = 'on'` and moves the chain's watermark in the same
-- transaction. This guards against mistakes and application bugs; against someone with
-- database rights (who can also disable triggers) the MAC chain is what detects tampering.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('z4j.audit_prune', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP USING ERRCODE = '42501';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

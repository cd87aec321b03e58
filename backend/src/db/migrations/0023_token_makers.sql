-- An API token acts with at most its maker's current role in the project (auth/tokenMakers.ts).
-- Who made it, as a Grafana user: the user id and the organization they minted it from (the
-- mapping's inputs, org role and teams, are per organization). Null for tokens made before
-- this migration: the label in created_by names a login, which is not an identity, so those
-- keep acting with the role they were minted with, as they did.
ALTER TABLE api_tokens
  ADD COLUMN created_by_user_id bigint,
  ADD COLUMN created_by_org_id bigint;

-- What the service last saw of a token maker's Grafana roles in one organization. Grafana
-- sends a user's org role, server-admin flag and teams only on that user's own calls, so the
-- role mapping of a maker who is not calling is worked out from the last ones seen. A row is
-- written when a user mints a token, then rewritten on their calls only when what they carry
-- changed or seen_at is older than a minute.
CREATE TABLE token_makers (
  org_id            bigint NOT NULL,
  user_id           bigint NOT NULL,
  org_role          text,
  is_grafana_admin  boolean NOT NULL,
  teams             bigint[] NOT NULL,
  seen_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, user_id)
);

-- The invitations, API tokens and agents lists are paged newest first by (created_at, id)
-- (api/keyset.ts). A project can pile up thousands of revoked tokens or agents: without these,
-- each page sorted all of the project's rows (api_tokens and agents had no index by project).
-- Ascending, as the explorer's (0013): a new row goes to the end, pages read with a backward scan.
CREATE INDEX invitations_recent ON invitations (project_id, created_at, id);
CREATE INDEX api_tokens_recent ON api_tokens (project_id, created_at, id);
CREATE INDEX agents_recent ON agents (project_id, created_at, id);

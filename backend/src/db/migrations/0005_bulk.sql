-- Bulk actions: one job per request, walked in chunks by a background runner. Each task it
-- acts on is an ordinary command (commands.bulk_id), so its outcome is visible, and a chunk
-- re-run after a restart finds its commands already made instead of acting twice.
CREATE TABLE bulk_jobs (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id    int NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  action        text NOT NULL,                 -- retry | cancel
  filters       jsonb NOT NULL,                -- the explorer's filters, frozen at `as_of`
  as_of         timestamptz NOT NULL,          -- tasks first seen after this are not part of the job
  state         text NOT NULL CHECK (state IN ('running', 'succeeded', 'cancelled', 'failed')),
  total         int NOT NULL,
  cursor        text,                          -- keyset position of the next chunk
  message       text,
  requested_by  text NOT NULL,
  idempotency_key text NOT NULL,
  lease_owner   text,
  lease_until   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project_id, idempotency_key)
);
CREATE INDEX bulk_jobs_running ON bulk_jobs (id) WHERE state = 'running';

ALTER TABLE commands ADD COLUMN bulk_id bigint REFERENCES bulk_jobs (id) ON DELETE SET NULL;
CREATE INDEX commands_by_bulk ON commands (bulk_id, id) WHERE bulk_id IS NOT NULL;

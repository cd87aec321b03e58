-- What Grafana's alert rules may read: views in a schema of their own, for Grafana's PostgreSQL
-- data source (the "z4j trends" data source has no backend, and Grafana evaluates alert rules
-- only on data sources with one). The data source logs in as a database role of its own, which
-- `z4j alerting grant` lets read these views and nothing else, for the projects it names.
--
-- The views run with their owner's rights (the service's role), so the reader needs no right on
-- any table. They show what an alert needs (states, times, queues, workers, depths, schedule runs), never a
-- task's arguments, result, exception message or traceback, and only the projects granted to
-- `current_user`, the role querying. `security_barrier`: a reader's own function in a WHERE
-- clause (a temporary one logs its arguments) runs only on rows the view already let through;
-- PostgreSQL still pushes leakproof comparisons (on times, states, names) into the scans, so a
-- rule's time window reads the explorer's index.

CREATE SCHEMA z4j_alerting;

-- Who may read which project's rows; a NULL project: every project, those made later too.
CREATE TABLE alerting_readers (
  role_name   text NOT NULL,
  project_id  int REFERENCES projects (id) ON DELETE CASCADE,
  granted_at  timestamptz NOT NULL DEFAULT now(),
  granted_by  text NOT NULL
);
CREATE UNIQUE INDEX alerting_readers_grant ON alerting_readers (role_name, coalesce(project_id, 0));

-- The projects the querying role may read.
CREATE VIEW z4j_alerting.projects WITH (security_barrier) AS
  SELECT p.slug AS project, p.name
    FROM projects p
   WHERE p.deleted_at IS NULL
     AND EXISTS (SELECT 1 FROM alerting_readers r WHERE r.role_name = current_user AND (r.project_id IS NULL OR r.project_id = p.id));

-- Tasks as the explorer folds them. Filter on first_seen_at (indexed, per project) for the
-- window, and on state_at for when the task reached its state: README "Alerting". Of the
-- exception, its type alone (the name it starts with, as Celery's repr and the agents' text
-- both do), never its message.
CREATE VIEW z4j_alerting.tasks WITH (security_barrier) AS
  SELECT p.slug AS project, t.engine, t.task_id, t.name, t.queue, t.state, t.worker, t.retries,
         substring(t.exception FROM '^[A-Za-z_][A-Za-z0-9_.]*') AS exception_type,
         t.first_seen_at, t.state_at, t.eta, t.sent_at, t.started_at, t.finished_at, t.runtime_ms, t.wait_ms
    FROM projects p JOIN tasks t ON t.project_id = p.id
   WHERE p.deleted_at IS NULL
     AND EXISTS (SELECT 1 FROM alerting_readers r WHERE r.role_name = current_user AND (r.project_id IS NULL OR r.project_id = p.id));

-- Workers: online or not, when last heard from, busy how much, and events their agent dropped.
CREATE VIEW z4j_alerting.workers WITH (security_barrier) AS
  SELECT p.slug AS project, w.engine, w.hostname AS worker, w.online, w.first_seen_at, w.last_seen_at, w.offline_at,
         w.heartbeat_s, w.active, w.concurrency, w.processed, w.dropped
    FROM projects p JOIN workers w ON w.project_id = p.id
   WHERE p.deleted_at IS NULL
     AND EXISTS (SELECT 1 FROM alerting_readers r WHERE r.role_name = current_user AND (r.project_id IS NULL OR r.project_id = p.id));

-- Queues: the last depth sampled from the broker, and when.
CREATE VIEW z4j_alerting.queues WITH (security_barrier) AS
  SELECT p.slug AS project, q.engine, q.name AS queue, q.depth, q.depth_at, q.empty_at, q.first_seen_at, q.last_seen_at
    FROM projects p JOIN queues q ON q.project_id = p.id
   WHERE p.deleted_at IS NULL
     AND EXISTS (SELECT 1 FROM alerting_readers r WHERE r.role_name = current_user AND (r.project_id IS NULL OR r.project_id = p.id));

-- Schedules (docs/schedules.md): what they send and when next, never the call's arguments.
CREATE VIEW z4j_alerting.schedules WITH (security_barrier) AS
  SELECT p.slug AS project, s.name AS schedule, s.engine, s.task_name, s.queue, s.cron, s.timezone, s.enabled, s.next_run_at
    FROM projects p JOIN schedules s ON s.project_id = p.id
   WHERE p.deleted_at IS NULL
     AND EXISTS (SELECT 1 FROM alerting_readers r WHERE r.role_name = current_user AND (r.project_id IS NULL OR r.project_id = p.id));

-- Each time a schedule fired: where its send got to (sent, dispatched, failed), the task it sent
-- (join z4j_alerting.tasks on task_id for how that went), and the cron times it missed while
-- the service was down. A window on fired_at reads each schedule's runs by index.
CREATE VIEW z4j_alerting.schedule_runs WITH (security_barrier) AS
  SELECT p.slug AS project, s.name AS schedule, s.engine, r.trigger, r.due_at, r.fired_at, r.state, r.task_id, r.missed
    FROM projects p JOIN schedules s ON s.project_id = p.id JOIN schedule_runs r ON r.schedule_id = s.id
   WHERE p.deleted_at IS NULL
     AND EXISTS (SELECT 1 FROM alerting_readers g WHERE g.role_name = current_user AND (g.project_id IS NULL OR g.project_id = p.id));

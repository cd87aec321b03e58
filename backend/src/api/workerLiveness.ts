// Whether a worker is still there: the one rule the workers list and the tasks it ran share.
import type { Queryable } from '../db/db.js';

/**
 * SQL true while the worker (a `workers` row under the alias `w`) is alive: it said it was online
 * and has been heard from within three heartbeat periods, and at least `minSilenceS` (a literal or
 * a parameter) seconds. A worker killed outright (SIGKILL, an OOM kill, a lost host) sends no
 * offline event: only its silence tells.
 */
const aliveSql = (minSilenceS: string) =>
  `(w.online AND w.last_seen_at > now() - make_interval(secs => greatest(coalesce(w.heartbeat_s, 2) * 3, ${minSilenceS})))`;

/** Alive, for the workers list: 10 s of silence at least. */
export const WORKER_ALIVE_SQL = aliveSql('10');

/** Task states a worker holds a task in: taken from the broker, or running. */
const HELD_BY_WORKER: readonly string[] = ['received', 'started'];

export interface WorkerGone {
  hostname: string;
  /** When z4j last heard from it (any event or heartbeat). */
  lastSeenAt: string;
  /** When it said it went offline; null when it just fell silent. */
  offlineAt: string | null;
}

/**
 * The worker that holds the task, when it is gone (offline, or silent past its heartbeats and
 * `lostAfterS`): the task will not end there, and no event will say so. The silence asked for
 * is longer than the workers list's (Z4J_WORKER_LOST_AFTER, a minute by default): a worker can
 * fall silent and still run its task (Celery's solo pool sends no heartbeat while a task runs,
 * nor does a process whose task holds the GIL in C code), and a lost task may be retried: a
 * short spell of that must not offer a second run of a task still running. Null while it is
 * alive, and for a worker z4j has never had a heartbeat from (it cannot tell). A worker that came
 * back under the same name (a restarted Celery worker keeps its hostname) counts as alive
 * (README, "A task lost with its worker").
 */
export async function workerGone(db: Queryable, projectId: number, engine: string, hostname: string, lostAfterS: number): Promise<WorkerGone | null> {
  const row = (
    await db.query<{ hostname: string; lastSeenAt: Date; offlineAt: Date | null }>(
      `SELECT w.hostname, w.last_seen_at AS "lastSeenAt", w.offline_at AS "offlineAt" FROM workers w
        WHERE w.project_id = $1 AND w.engine = $2 AND w.hostname = $3 AND NOT ${aliveSql('$4::float8')}`,
      [projectId, engine, hostname, lostAfterS],
    )
  ).rows[0];
  if (!row) return null;
  return { hostname: row.hostname, lastSeenAt: new Date(row.lastSeenAt).toISOString(), offlineAt: row.offlineAt && new Date(row.offlineAt).toISOString() };
}

/** The worker that held a task, when the task is still in its hands and it is gone; else null. */
export async function taskWorkerGone(db: Queryable, projectId: number, engine: string, task: { state: string; worker: string | null }, lostAfterS: number): Promise<WorkerGone | null> {
  if (!task.worker || !HELD_BY_WORKER.includes(task.state)) return null;
  return workerGone(db, projectId, engine, task.worker, lostAfterS);
}

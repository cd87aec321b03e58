// Schedule runs as stored and as the API shows them. A run sent through an agent stays
// 'dispatched' in its row; what the agent then reported (or the reconciler's time-out) is in its
// command, so a read shows the run as the command settled: sent, or failed with the reason.
import { isoTimeSql as iso, type Queryable } from '../db/db.js';
import { ApiError } from '../api/errors.js';
import { listPage, type KeysetOrder, type PageParams } from '../api/keyset.js';

export type RunState = 'sending' | 'sent' | 'dispatched' | 'failed';

export interface ScheduleRun {
  id: string;
  scheduleId: string;
  trigger: 'cron' | 'manual';
  dueAt: string | null;
  firedAt: string;
  requestedBy: string | null;
  state: RunState;
  taskId: string | null;
  commandId: string | null;
  missed: number;
  error: string | null;
}


const SETTLED_FAILED = `r.state = 'dispatched' AND c.state IN ('failed', 'timed_out')`;

/** Each field of a ScheduleRun and its expression over `schedule_runs r LEFT JOIN commands c ON c.id = r.command_id`. */
const RUN_FIELDS: [keyof ScheduleRun, string][] = [
  ['id', 'r.id::text'], ['scheduleId', 'r.schedule_id'], ['trigger', 'r.trigger'], ['dueAt', iso('r.due_at')], ['firedAt', iso('r.fired_at')],
  ['requestedBy', 'r.requested_by'],
  ['state', `CASE WHEN r.state = 'dispatched' AND c.state = 'succeeded' THEN 'sent' WHEN ${SETTLED_FAILED} THEN 'failed' ELSE r.state END`],
  // A run its agent refused (or that timed out) sent no task: no link to one that never existed.
  ['taskId', `CASE WHEN ${SETTLED_FAILED} THEN NULL ELSE r.task_id END`], ['commandId', 'r.command_id::text'], ['missed', 'r.missed'],
  ['error', `coalesce(r.error, CASE WHEN ${SETTLED_FAILED} THEN coalesce(c.outcome->>'message', 'the command ' || c.state) END)`],
];

export const RUNS_FROM = 'schedule_runs r LEFT JOIN commands c ON c.id = r.command_id';
/** The select list of ScheduleRun rows, from RUNS_FROM. */
export const RUN_COLUMNS = RUN_FIELDS.map(([name, sql]) => `${sql} AS "${name}"`).join(', ');
/** One run as one JSON object (a schedule's lastRun), from RUNS_FROM. */
export const RUN_JSON = `json_build_object(${RUN_FIELDS.map(([name, sql]) => `'${name}', ${sql}`).join(', ')})`;

const BY_FIRING: KeysetOrder = { at: 'r.fired_at', id: 'r.id', idType: 'bigint' };

export async function listRuns(q: Queryable, projectId: number, scheduleId: string, page: PageParams): Promise<{ rows: ScheduleRun[]; nextCursor: string | null }> {
  return listPage<ScheduleRun>(q, { select: RUN_COLUMNS, from: RUNS_FROM, where: 'r.schedule_id = $1 AND r.project_id = $2', params: [scheduleId, projectId], order: BY_FIRING }, page);
}

export async function getRun(q: Queryable, id: string): Promise<ScheduleRun | null> {
  return (await q.query<ScheduleRun>(`SELECT ${RUN_COLUMNS} FROM ${RUNS_FROM} WHERE r.id = $1`, [id])).rows[0] ?? null;
}

/**
 * Records a manual run ("run now"), about to be sent; or, when the project already has a run of
 * this Idempotency-Key (a repeated request), returns that one's id with `created` false.
 */
export async function insertManualRun(q: Queryable, projectId: number, scheduleId: string, requestedBy: string, key: string): Promise<{ id: string; created: boolean }> {
  const made = (await q.query<{ id: string }>(
    `INSERT INTO schedule_runs (schedule_id, project_id, trigger, requested_by, state, idempotency_key) VALUES ($1, $2, 'manual', $3, 'sending', $4)
     ON CONFLICT (project_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id::text AS id`,
    [scheduleId, projectId, requestedBy, key],
  )).rows[0];
  if (made) return { id: made.id, created: true };
  const first = (await q.query<{ id: string; scheduleId: string }>(
    'SELECT id::text AS id, schedule_id AS "scheduleId" FROM schedule_runs WHERE project_id = $1 AND idempotency_key = $2', [projectId, key])).rows[0]!;
  if (first.scheduleId !== scheduleId) throw new ApiError(422, 'IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for another schedule: send a fresh one per intended run');
  return { id: first.id, created: false };
}

/** Where a run's send got to. Only a run still 'sending' moves: a run is sent once. */
export async function finishRun(q: Queryable, id: string, f: { state: Exclude<RunState, 'sending'>; taskId: string | null; commandId: number | null; error: string | null }): Promise<void> {
  await q.query(
    `UPDATE schedule_runs SET state = $2, task_id = $3, command_id = $4, error = $5 WHERE id = $1 AND state = 'sending'`,
    [id, f.state, f.taskId, f.commandId, f.error],
  );
}

/** How long a run may stay 'sending' before it is taken for one its service stopped in the middle of. */
export const ABANDONED_AFTER_MS = 10 * 60_000;

/**
 * Marks failed the runs left 'sending' for longer than ABANDONED_AFTER_MS: their service stopped
 * between recording and sending them. Never re-sent (at most once); the run says it may or may
 * not have reached the broker. Returns how many.
 */
export async function failAbandonedRuns(q: Queryable, now?: Date): Promise<number> {
  // `now`: a test's clock; else the database's, as the scheduler's claims use (one for every replica).
  const r = await q.query(
    `UPDATE schedule_runs SET state = 'failed',
            error = 'the service stopped while sending this run: it may or may not have reached the broker, and is not sent again'
      WHERE state = 'sending' AND fired_at < coalesce($1::timestamptz, now()) - make_interval(secs => $2) RETURNING id`,
    [now?.toISOString() ?? null, ABANDONED_AFTER_MS / 1000],
  );
  return r.rows.length;
}

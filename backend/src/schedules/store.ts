// Schedules in the database: create, read, list (keyset), change, enable / disable, delete. The
// exact call (args and kwargs) is sealed; reads return only its redacted display copy.
import type { Sealer } from '../crypto/seal.js';
import { isoTimeSql as iso, type Queryable } from '../db/db.js';
import { listPage, type KeysetOrder, type PageParams } from '../api/keyset.js';
import { newId } from '../auth/secrets.js';
import type { Engine } from '../ingest/envelope.js';
import { scrub } from '../redact/redact.js';
import { nextTime, ScheduleInputError } from './cron.js';
import { RUN_JSON, RUNS_FROM, type ScheduleRun } from './runs.js';

/** What a schedule is made of (validated by the API: cron normalized, zone known, engine able to send). */
export interface ScheduleFields {
  name: string;
  engine: Engine;
  taskName: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  queue: string | null;
  cron: string;
  timezone: string;
  enabled: boolean;
}

/** A schedule as the API shows it: its args and kwargs are the redacted display copy. */
export interface Schedule extends ScheduleFields {
  id: string;
  nextRunAt: string | null;
  lastRun: ScheduleRun | null;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  updatedBy: string;
}

/** The exact call, as sealed. */
export interface SealedCall {
  args: unknown[];
  kwargs: Record<string, unknown>;
}

/** The additional data a call is sealed with: it opens only for the schedule it belongs to. */
const callAad = (projectId: number, id: string) => `schedule-call:${projectId}:${id}`;

/** Most bytes of JSON a schedule's args and kwargs take together. */
export const MAX_CALL_BYTES = 64 * 1024;

export function sealCall(sealer: Sealer, projectId: number, id: string, call: SealedCall): Buffer {
  const bytes = Buffer.byteLength(JSON.stringify(call.args), 'utf8') + Buffer.byteLength(JSON.stringify(call.kwargs), 'utf8');
  if (bytes > MAX_CALL_BYTES) throw new ScheduleInputError('BAD_REQUEST', `args + kwargs: ${bytes} bytes of JSON, at most ${MAX_CALL_BYTES} (64 KiB)`);
  return sealer.seal(JSON.stringify(call), callAad(projectId, id));
}

export const openCall = (sealer: Sealer, projectId: number, id: string, sealed: Buffer): SealedCall =>
  JSON.parse(sealer.open(Buffer.from(sealed), callAad(projectId, id)).toString('utf8')) as SealedCall;

const LAST_RUN = `(SELECT ${RUN_JSON} FROM ${RUNS_FROM} WHERE r.schedule_id = s.id ORDER BY r.fired_at DESC, r.id DESC LIMIT 1)`;

const COLUMNS = `s.id, s.name, s.engine, s.task_name AS "taskName", s.args_display AS args, s.kwargs_display AS kwargs, s.queue, s.cron, s.timezone,
  s.enabled, ${iso('s.next_run_at')} AS "nextRunAt", ${LAST_RUN} AS "lastRun",
  ${iso('s.created_at')} AS "createdAt", s.created_by AS "createdBy", ${iso('s.updated_at')} AS "updatedAt", s.updated_by AS "updatedBy"`;

const BY_CREATION: KeysetOrder = { at: 's.created_at', id: 's.id', idType: 'text' };

export async function getSchedule(q: Queryable, projectId: number, id: string): Promise<Schedule | null> {
  return (await q.query<Schedule>(`SELECT ${COLUMNS} FROM schedules s WHERE s.project_id = $1 AND s.id = $2`, [projectId, id])).rows[0] ?? null;
}

export async function listSchedules(q: Queryable, projectId: number, page: PageParams): Promise<{ rows: Schedule[]; nextCursor: string | null }> {
  return listPage<Schedule>(q, { select: COLUMNS, from: 'schedules s', where: 's.project_id = $1', params: [projectId], order: BY_CREATION }, page);
}

/**
 * The database's time: what "due" is measured against. Each replica's own clock would let the
 * one that runs ahead fire every schedule early by as much (and fail other replicas' runs as
 * abandoned early), and a schedule made on one that runs behind or ahead would start from a
 * time the others do not share: one clock for all of them.
 */
export async function databaseNow(q: Queryable): Promise<Date> {
  return new Date((await q.query<{ now: Date }>('SELECT now() AS now')).rows[0]!.now);
}

/**
 * Creates a schedule (a taken name: the unique violation 23505 of (project_id, name)), first due
 * after `now` (the database's time unless a test sets it).
 */
export async function createSchedule(q: Queryable, sealer: Sealer, projectId: number, f: ScheduleFields, by: string, now?: Date): Promise<Schedule> {
  const id = newId('sch_');
  const next = f.enabled ? nextTime(f.cron, f.timezone, now ?? (await databaseNow(q))) : null;
  await q.query(
    `INSERT INTO schedules (id, project_id, name, engine, task_name, args_display, kwargs_display, sealed_call, queue, cron, timezone, enabled, next_run_at, created_by, updated_by)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10, $11, $12, $13, $14, $14)`,
    [id, projectId, f.name, f.engine, f.taskName, JSON.stringify(scrub(f.args)), JSON.stringify(scrub(f.kwargs)), sealCall(sealer, projectId, id, { args: f.args, kwargs: f.kwargs }),
      f.queue, f.cron, f.timezone, f.enabled, next, by],
  );
  return (await getSchedule(q, projectId, id))!;
}

/** A schedule's row as it is changed: its fields and its sealed call. */
interface Stored extends Omit<ScheduleFields, 'args' | 'kwargs'> {
  sealed: Buffer;
}

/**
 * Changes some fields (a changed cron, zone or `enabled` recomputes when it is next due, from now;
 * new args or kwargs replace the old whole). Returns the schedule before and after, or null for
 * an unknown one.
 */
export async function updateSchedule(q: Queryable, sealer: Sealer, projectId: number, id: string, patch: Partial<Omit<ScheduleFields, 'engine'>>, by: string, now?: Date): Promise<{ before: Schedule; after: Schedule } | null> {
  // Locked first: two changes at once apply one after the other, each to what the other left.
  const row = (await q.query<Stored>(
    `SELECT name, engine, task_name AS "taskName", queue, cron, timezone, enabled, sealed_call AS sealed FROM schedules WHERE project_id = $1 AND id = $2 FOR UPDATE`,
    [projectId, id],
  )).rows[0];
  const before = row ? await getSchedule(q, projectId, id) : null;
  if (!row || !before) return null;
  const f = { ...row, ...patch };
  // Only a real change: "enable" on an enabled schedule must not move a due time still to fire.
  const retimed = f.cron !== row.cron || f.timezone !== row.timezone || f.enabled !== row.enabled;
  const next = retimed && f.enabled ? nextTime(f.cron, f.timezone, now ?? (await databaseNow(q))) : null;
  let call: SealedCall | null = null;
  if (patch.args !== undefined || patch.kwargs !== undefined) {
    const old = openCall(sealer, projectId, id, row.sealed);
    call = { args: patch.args ?? old.args, kwargs: patch.kwargs ?? old.kwargs };
  }
  await q.query(
    `UPDATE schedules SET name = $3, task_name = $4, queue = $5, cron = $6, timezone = $7, enabled = $8,
        next_run_at = CASE WHEN $9 THEN $10::timestamptz ELSE next_run_at END,
        args_display = coalesce($11::jsonb, args_display), kwargs_display = coalesce($12::jsonb, kwargs_display), sealed_call = coalesce($13, sealed_call),
        updated_at = now(), updated_by = $14
      WHERE project_id = $1 AND id = $2`,
    [projectId, id, f.name, f.taskName, f.queue, f.cron, f.timezone, f.enabled, retimed, next,
      call ? JSON.stringify(scrub(call.args)) : null, call ? JSON.stringify(scrub(call.kwargs)) : null, call ? sealCall(sealer, projectId, id, call) : null, by],
  );
  return { before, after: (await getSchedule(q, projectId, id))! };
}

export async function deleteSchedule(q: Queryable, projectId: number, id: string): Promise<Schedule | null> {
  const s = await getSchedule(q, projectId, id);
  if (s) await q.query('DELETE FROM schedules WHERE project_id = $1 AND id = $2', [projectId, id]);
  return s;
}

/** The schedule's call, opened, and what it needs to be sent. */
export interface Sendable {
  id: string;
  projectId: number;
  projectSlug: string;
  name: string;
  engine: Engine;
  taskName: string;
  queue: string | null;
  sealed: Buffer;
}

export const SENDABLE_COLUMNS = `s.id, s.project_id AS "projectId", p.slug AS "projectSlug", s.name, s.engine, s.task_name AS "taskName", s.queue, s.sealed_call AS sealed`;

export async function getSendable(q: Queryable, projectId: number, id: string): Promise<Sendable | null> {
  return (await q.query<Sendable>(`SELECT ${SENDABLE_COLUMNS} FROM schedules s JOIN projects p ON p.id = s.project_id WHERE s.project_id = $1 AND s.id = $2`, [projectId, id])).rows[0] ?? null;
}

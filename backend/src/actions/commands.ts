// Persisted commands: pending → dispatched → succeeded / failed / timed_out. Creating one is
// idempotent by (project, Idempotency-Key): asking twice returns the first command.
import type { AuditActor, AuditEntry } from '../audit/chain.js';
import { isoTimeSql, type Db, type Queryable } from '../db/db.js';
import { CANCEL_MEMORY_S } from '../engines/driver.js';

export type CommandState = 'pending' | 'dispatched' | 'succeeded' | 'failed' | 'timed_out';

export interface Command {
  id: number;
  kind: string;
  engine: string;
  target: string;
  args: Record<string, unknown>;
  state: CommandState;
  outcome: Record<string, unknown> | null;
  requestedBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface NewCommand {
  projectId: number;
  idempotencyKey: string;
  kind: string;
  engine: string;
  target: string;
  args: Record<string, unknown>;
  requestedBy: string;
  /** The bulk job this command is part of. */
  bulkId?: number;
}

export class IdempotencyConflict extends Error {}

/**
 * Thrown by a driver when the engine answered the command with a refusal (`failed`) or nobody it
 * was meant for answered in time (`timed_out`): the command ends so, with this detail, rather
 * than as an engine that could not be reached.
 */
export class CommandEnded extends Error {
  constructor(readonly state: 'failed' | 'timed_out', message: string, readonly detail: Record<string, unknown> = {}) {
    super(message);
  }
}

export const COMMAND_COLUMNS = `id::int AS id, kind, engine, target, args, state, outcome, requested_by AS "requestedBy",
  ${isoTimeSql('created_at')} AS "createdAt", ${isoTimeSql('updated_at')} AS "updatedAt"`;

/** Canonical JSON (sorted keys) so the same request compares equal however its body was ordered. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/**
 * Creates the command, or returns the one already created with this key (`created: false`).
 * Reusing a key for a different request is refused: acting on the wrong thing is worse than an error.
 */
export async function createCommand(db: Db, c: NewCommand): Promise<{ command: Command; created: boolean }> {
  const inserted = await db.query<Command>(
    `INSERT INTO commands (project_id, idempotency_key, kind, engine, target, args, state, requested_by, bulk_id)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, 'pending', $7, $8)
     ON CONFLICT (project_id, idempotency_key) DO NOTHING
     RETURNING ${COMMAND_COLUMNS}`,
    [c.projectId, c.idempotencyKey, c.kind, c.engine, c.target, JSON.stringify(c.args), c.requestedBy, c.bulkId ?? null],
  );
  if (inserted.rows[0]) return { command: inserted.rows[0], created: true };
  const existing = (await db.query<Command>(`SELECT ${COMMAND_COLUMNS} FROM commands WHERE project_id = $1 AND idempotency_key = $2`, [c.projectId, c.idempotencyKey])).rows[0]!;
  const same = existing.kind === c.kind && existing.engine === c.engine && existing.target === c.target && canonical(existing.args) === canonical(c.args);
  if (!same) throw new IdempotencyConflict('this Idempotency-Key was already used for a different request');
  return { command: existing, created: false };
}

/** Moves a command forward; a finished command never changes again. */
export async function transition(db: Db, id: number, state: CommandState, outcome?: Record<string, unknown>): Promise<Command | null> {
  const res = await db.query<Command>(
    `UPDATE commands SET state = $2, outcome = coalesce(outcome, '{}'::jsonb) || coalesce($3::jsonb, '{}'::jsonb), updated_at = now()
      WHERE id = $1 AND state IN ('pending', 'dispatched')
      RETURNING ${COMMAND_COLUMNS}`,
    [id, state, outcome ? JSON.stringify(outcome) : null],
  );
  return res.rows[0] ?? null;
}

/**
 * Drops the reasons (task_reasons) kept for a command's send, when the command failed: the task
 * they would explain was never enqueued. Written before the send, since the agent's report of the
 * enqueue can come before the send returns.
 */
export async function dropReasons(q: Queryable, commandId: number): Promise<void> {
  await q.query('DELETE FROM task_reasons WHERE command_id = $1', [commandId]);
}

/**
 * Keeps a pending command's `updated_at` fresh while the service runs it, so the reconciler does
 * not time it out mid-run; returns the function that stops it.
 */
export function keepAlive(db: Db, id: number, timeoutS: number): () => void {
  const timer = setInterval(() => {
    db.query(`UPDATE commands SET updated_at = now() WHERE id = $1 AND state = 'pending'`, [id]).catch(() => undefined); // a missed beat: the next one
  }, Math.max(250, (timeoutS * 1000) / 4));
  timer.unref();
  return () => clearInterval(timer);
}

export async function getCommand(db: Db, projectId: number, id: number): Promise<Command | null> {
  return (await db.query<Command>(`SELECT ${COMMAND_COLUMNS} FROM commands WHERE project_id = $1 AND id = $2`, [projectId, id])).rows[0] ?? null;
}

/** Where the reconciler records what it settled (the audit log; optional so tests can leave it out). */
export interface SettledAudit {
  append(entry: AuditEntry, tx?: Queryable): Promise<unknown>;
}

/** A command as settled (RETURNING SETTLED), for its audit row. */
export interface Settled { id: number; projectId: number; kind: string; engine: string; target: string; state: CommandState; message: string | null }

export const SETTLED = `c.id::int AS id, c.project_id::int AS "projectId", c.kind, c.engine, c.target, c.state, c.outcome->>'message' AS message`;

/** The command kind of a schedule run sent as a new task; its target is the schedule's id. */
export const SCHEDULE_RUN_KIND = 'schedule.run';

/**
 * What a command's audit rows name: the engine's task, queue or worker (`celery/<task id>`), or
 * for a schedule's run its schedule, as the schedule's own rows do (`schedule:<id>`), so the
 * schedule's audit has its runs' outcomes, and no row names a task that does not exist.
 */
export function auditTarget(c: { kind: string; engine: string; target: string }): string {
  return c.kind === SCHEDULE_RUN_KIND ? `schedule:${c.target}` : `${c.engine}/${c.target}`;
}

/** Audits what `actor` settled, in the transaction that settled it (without one: each row in a transaction of its own). */
export async function auditSettled(audit: SettledAudit | undefined, settled: readonly Settled[], actor: AuditActor, tx?: Queryable): Promise<void> {
  for (const c of audit ? settled : []) {
    await audit!.append({
      projectId: c.projectId, actor, action: c.kind, target: auditTarget(c),
      outcome: c.state === 'succeeded' ? 'ok' : 'error', detail: { commandId: c.id, state: c.state, message: c.message },
    }, tx);
  }
}

/**
 * Settles dispatched cancels and terminates from what the task did next (the engine tells us
 * through its events), takes back a cancel the workers' agents took once its task ran anyway (a
 * worker that did not know it: started after the cancel, or without the agent), and times out
 * anything left open too long: a command a worker took and
 * never answered (it crashed, it was never there) ends `timed_out`, never stays `dispatched`.
 * A command still `pending` is one the service is running (a long purge, a requeue of many dead
 * letters): it times out only once that run stopped keeping it alive (`keepAlive`), e.g. the
 * service died mid-run.
 * Each settled command's outcome is audited in the same transaction. Returns how many changed.
 */
export async function reconcileCommands(db: Db, timeoutS: number, audit?: SettledAudit): Promise<number> {
  return db.transaction(async (tx) => {
    const settled = await tx.query<Settled>(
      `UPDATE commands c SET
          state = CASE WHEN t.state = 'revoked' THEN 'succeeded' ELSE 'failed' END,
          outcome = coalesce(c.outcome, '{}'::jsonb) || jsonb_build_object('taskState', t.state,
                    'message', CASE WHEN t.state = 'revoked' THEN 'the engine confirmed it' ELSE 'the task finished first (' || t.state || ')' END),
          updated_at = now(), audited = true
         FROM tasks t
        WHERE c.state = 'dispatched' AND c.kind IN ('task.cancel', 'task.terminate')
          AND t.project_id = c.project_id AND t.engine = c.engine AND t.task_id = c.target
          AND t.state IN ('revoked', 'succeeded', 'failed', 'rejected', 'expired')
       RETURNING ${SETTLED}`,
    );
    // Only from enqueued or received may a task be cancelled (actionService), so any later run is
    // one the cancel did not stop. Looked at while the agents remember the id (CANCEL_MEMORY_S).
    const ranAnyway = await tx.query<Settled>(
      `UPDATE commands c SET state = 'failed',
          outcome = c.outcome || jsonb_build_object('taskState', t.state, 'message',
                    'the task ran anyway (' || t.state || coalesce(' on ' || t.worker, '') || '), though ' || (c.outcome->>'takenBy') ||
                    ' had said it would skip it: a worker that did not know the cancel took it (started after it, or without the z4j agent)'),
          updated_at = now(), audited = true
         FROM tasks t
        WHERE c.kind = 'task.cancel' AND c.state = 'succeeded' AND c.outcome ? 'takenBy' AND c.updated_at > now() - make_interval(secs => $1)
          AND t.project_id = c.project_id AND t.engine = c.engine AND t.task_id = c.target
          AND t.state IN ('started', 'succeeded', 'failed', 'retried')
       RETURNING ${SETTLED}`,
      [CANCEL_MEMORY_S],
    );
    const timedOut = await tx.query<Settled>(
      `UPDATE commands c SET state = 'timed_out', outcome = coalesce(outcome, '{}'::jsonb) || '{"message": "no confirmation from the engine in time"}'::jsonb, updated_at = now(), audited = true
        WHERE (state = 'dispatched' AND created_at < now() - make_interval(secs => $1))
           OR (state = 'pending' AND updated_at < now() - make_interval(secs => $1))
       RETURNING ${SETTLED}`,
      [timeoutS],
    );
    const all = [...settled.rows, ...ranAnyway.rows, ...timedOut.rows];
    await auditSettled(audit, all, { kind: 'system', id: null, name: 'command reconciler' }, tx);
    return all.length;
  });
}

// Marks expired the tasks whose expiry passed while they waited. No engine runs a message past
// its expiry, and not all of them say so: RQ lets an expired job's key vanish and skips it without
// a word, so its task would show "enqueued" for ever. Celery's workers report what they discard,
// hence the grace: a worker's own report comes first.
//
// A mark is an `expired` event in the task's timeline (fields.markedBy = 'z4j', with the reason),
// folded like any event: it holds only while no report says otherwise (taskState.ts), so a worker
// that did run the task late still gets its run shown, whenever its events arrive.
import type { Db, Queryable } from '../db/db.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { INSERT_EVENTS_SQL } from './batchWriter.js';
import type { TaskEnvelope } from './envelope.js';
import { SELECT_TASK_ROW, UPDATE_TASKS_SQL, taskParams, type KeyedTask } from './taskColumns.js';
import { Z4J_MARKER, foldEvents, type TaskRow } from './taskState.js';

export interface ExpirySweepOptions {
  /** How long past its expiry a waiting task is left to its worker's own report. */
  graceMs: number;
  /** Most tasks marked in one transaction. */
  limit?: number;
  /** Most transactions in one round (each of `limit` tasks), so that a backlog is worked off in bounded steps. */
  maxPasses?: number;
  /** The clock (tests). */
  now?: () => number;
}

export const EXPIRY_REASON = 'its expiry passed while it waited: no worker reported taking it, and none will run it now';

// Found by the partial index tasks_expiring (migration 0026): its predicate is repeated here, so
// that the planner can use it; the oldest expiries first. Rows the ingest holds are skipped, not
// waited for (the next round has them): the ingest never waits on the sweep for long, and the
// sweep never takes part in a deadlock.
export const DUE_SQL = `
SELECT ${SELECT_TASK_ROW}
  FROM tasks t
 WHERE t.expires_at IS NOT NULL AND t.state IN ('enqueued', 'received') AND t.expires_at < to_timestamp($1::float8 / 1000.0)
 ORDER BY t.expires_at
 LIMIT $2
   FOR UPDATE OF t SKIP LOCKED`;

// The rows are locked, and the state is checked again all the same: a task that started or ended
// meanwhile (on another replica) is never overwritten, and marking twice changes nothing.
const MARK_SQL = `${UPDATE_TASKS_SQL}
   AND t.state IN ('enqueued', 'received') AND t.attempt = u.attempt
RETURNING t.id::text AS ref`;

/** A due task: its row, its key's project and its row id. */
interface Due { projectId: number; ref: string; row: TaskRow }

/** The mark of a waiting task past its expiry: an event of the attempt it waits in, at its expiry. */
export function expiryMark(row: TaskRow, ref: string): TaskEnvelope {
  const at = row.expiresAt!;
  return {
    v: 1, type: 'task', id: `z4j-expired.${ref}.${row.attempt}`, engine: row.engine, project: '', kind: 'expired', taskId: row.taskId,
    occurredAt: at,
    fields: { ...(row.name ? { name: row.name } : {}), retries: row.attempt, expires: new Date(at).toISOString(), markedBy: Z4J_MARKER, reason: EXPIRY_REASON },
  };
}

/** One transaction: marks at most `limit` tasks. Returns how many were due and those it marked. */
export async function markExpiredTasks(db: Db, opts: ExpirySweepOptions): Promise<{ due: number; marked: Due[] }> {
  const now = (opts.now ?? Date.now)();
  const limit = opts.limit ?? 500;
  return db.transaction(async (tx: Queryable) => {
    const rows = await tx.query<TaskRow & { projectId: number; ref: string }>(DUE_SQL, [now - opts.graceMs, limit], { name: 'z4j_expiry_due' });
    const due: Due[] = rows.rows.map(({ projectId, ref, ...row }) => ({ projectId, ref, row }));
    // The fold decides, as it will whenever the task is folded again (taskState.ts).
    const marks = new Map<string, TaskEnvelope>();
    const updates: KeyedTask[] = [];
    for (const { projectId, ref, row } of due) {
      const mark = expiryMark(row, ref);
      const next = foldEvents(row, [mark]);
      if (next.state !== 'expired') continue;
      marks.set(ref, mark);
      updates.push({ projectId, row: next });
    }
    if (!updates.length) return { due: due.length, marked: [] };
    const changed = new Set((await tx.query<{ ref: string }>(MARK_SQL, taskParams(updates), { name: 'z4j_expiry_mark' })).rows.map((r) => r.ref));
    const marked = due.filter((d) => changed.has(d.ref));
    const events = marked.map(({ projectId, ref, row }) => {
      const mark = marks.get(ref)!;
      return { p: projectId, e: row.engine, t: row.taskId, r: ref, id: mark.id, k: mark.kind, ms: mark.occurredAt, w: null, f: mark.fields };
    });
    if (events.length) await tx.query(INSERT_EVENTS_SQL, [JSON.stringify(events)], { name: 'z4j_insert_events' });
    return { due: due.length, marked };
  });
}

/**
 * A round of the sweep: transactions of at most `limit` tasks while the last one found a full
 * load, at most `maxPasses` of them. Counted in z4j_tasks_marked_expired_total. Safe on every
 * replica at once.
 */
export async function sweepExpiredTasks(db: Db, metrics: Metrics, log: Logger, opts: ExpirySweepOptions): Promise<number> {
  const limit = opts.limit ?? 500;
  let total = 0;
  for (let pass = 0; pass < (opts.maxPasses ?? 10); pass++) {
    const { due, marked } = await markExpiredTasks(db, { ...opts, limit });
    for (const { row } of marked) metrics.tasksMarkedExpired.inc({ engine: row.engine });
    total += marked.length;
    if (due < limit) break;
  }
  if (total) log.info({ tasks: total }, 'waiting tasks marked expired: their expiry passed with no worker report');
  return total;
}

// Read side of tasks: the explorer's filtered, keyset-paginated list and one task's detail.
import { z } from 'zod';
import type { Queryable } from '../db/db.js';
import { ENGINES, TASK_KINDS } from '../ingest/envelope.js';
import { LIFECYCLE_ORDER } from '../ingest/taskState.js';
import { taskWorkerGone } from './workerLiveness.js';
import { afterCursorSql, cursorColumns, pageOf, pageParams, type KeysetOrder } from './keyset.js';

/** A retry from z4j (a task_retries row `r`) whose command did not fail: its new task was sent. */
export const SENT_RETRY = `NOT EXISTS (SELECT 1 FROM commands c WHERE c.id = r.command_id AND c.state = 'failed')`;

/** A comma-separated list of allowed values, e.g. state=failed,retried. */
const csvOf = <const V extends readonly [string, ...string[]]>(values: V) =>
  z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.enum(values)).min(1, 'at least one value (leave the parameter out for all)').max(20));

/** Epoch ms or ISO 8601, within years 1970–9999 (what PostgreSQL and the explorer take). */
export const timeParam = z
  .union(
    [
      z.string().regex(/^\d{10,16}$/).transform((s) => new Date(Number(s))),
      z.iso.datetime({ offset: true }).transform((s) => new Date(s)),
    ],
    { error: (issue) => (issue.input === undefined ? 'required' : 'a time as ISO 8601 (2026-12-07T12:00:00Z) or epoch milliseconds') },
  )
  .refine((d) => d.getUTCFullYear() >= 1970 && d.getUTCFullYear() <= 9999, 'a time between 1970 and 9999');

/** Strict: an unknown or misspelt filter is refused, never ignored (a bulk action would widen to every task). */
export const listTasksQuery = z.strictObject({
  project: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/).optional(),
  engine: csvOf(ENGINES).optional(),
  state: csvOf(TASK_KINDS).optional(),
  name: z.string().min(1).max(1024).optional(),
  queue: z.string().min(1).max(1024).optional(),
  worker: z.string().min(1).max(1024).optional(),
  from: timeParam.optional(),
  to: timeParam.optional(),
  q: z.string().min(1).max(200).optional(),
  ...pageParams,
});
export type ListTasksQuery = z.infer<typeof listTasksQuery>;

/** The columns a task is shown with (times as ISO strings). */
const TASK_SELECT = `
  t.id::text AS id, t.engine, t.task_id AS "taskId", t.name, t.queue, t.state, t.args, t.kwargs, t.result,
  t.exception, t.worker, t.retries, t.root_id AS "rootId", t.parent_id AS "parentId", t.group_id AS "groupId",
  t.eta, t.sent_at AS "sentAt", t.received_at AS "receivedAt", t.started_at AS "startedAt",
  t.finished_at AS "finishedAt", t.runtime_ms AS "runtimeMs", t.wait_ms AS "waitMs",
  t.first_seen_at AS "firstSeenAt", t.last_event_at AS "lastEventAt"`;

/** Newest first; the cursor is the last row's exact sort key (keyset.ts). */
const TASK_ORDER: KeysetOrder = { at: 't.first_seen_at', id: 't.id', idType: 'bigint' };

/**
 * What free text matches: the id, the name and the start of the arguments. In the database's
 * own collation: the id's "C" collation (kept for its index) would lower ASCII letters only.
 */
const SEARCH_TEXT = `lower((t.task_id || ' ' || coalesce(t.name, '') || ' ' || left(coalesce(t.args::text, '') || ' ' || coalesce(t.kwargs::text, ''), 2048)) COLLATE "default")`;

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The explorer's filters as SQL over `tasks t` (bulk actions select with the same ones). */
export function taskFilterSql(projectId: number, q: Omit<ListTasksQuery, 'limit'>): { where: string[]; params: unknown[] } {
  const where = ['t.project_id = $1'];
  const params: unknown[] = [projectId];
  const add = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (q.engine) add((p) => `t.engine = ANY(${p}::text[])`, q.engine);
  if (q.state) add((p) => `t.state = ANY(${p}::text[])`, q.state);
  if (q.name) add((p) => `t.name = ${p}`, q.name);
  if (q.queue) add((p) => `t.queue = ${p}`, q.queue);
  if (q.worker) add((p) => `t.worker = ${p}`, q.worker);
  if (q.from) add((p) => `t.first_seen_at >= ${p}`, q.from);
  if (q.to) add((p) => `t.first_seen_at < ${p}`, q.to);
  if (q.q) {
    // Lowered by PostgreSQL on both sides (JavaScript lowers some letters differently, e.g. a
    // final Σ); the arguments are JSON text, so a quote or backslash is searched as JSON writes it too.
    const asJson = JSON.stringify(q.q).slice(1, -1);
    if (asJson === q.q) {
      add((p) => `${SEARCH_TEXT} LIKE lower(${p})`, `%${escapeLike(q.q)}%`);
    } else {
      params.push(`%${escapeLike(q.q)}%`, `%${escapeLike(asJson)}%`);
      where.push(`(${SEARCH_TEXT} LIKE lower($${params.length - 1}) OR ${SEARCH_TEXT} LIKE lower($${params.length}))`);
    }
  }
  if (q.cursor) where.push(afterCursorSql(TASK_ORDER, q.cursor, params));
  return { where, params };
}

/** The explorer's page query: one more row than the limit, to tell whether there is a next page. */
export function listTasksSql(projectId: number, q: ListTasksQuery): { text: string; params: unknown[] } {
  const { where, params } = taskFilterSql(projectId, q);
  params.push(q.limit + 1);
  return {
    text: `SELECT ${TASK_SELECT}, ${cursorColumns(TASK_ORDER)} FROM tasks t
            WHERE ${where.join(' AND ')}
            ORDER BY t.first_seen_at DESC, t.id DESC
            LIMIT $${params.length}`,
    params,
  };
}

export async function listTasks(db: Queryable, projectId: number, q: ListTasksQuery) {
  const { text, params } = listTasksSql(projectId, q);
  const rows = (await db.query<Record<string, unknown> & { cursorAt: string; cursorId: string }>(text, params)).rows;
  const page = pageOf(rows, q.limit);
  return { tasks: page.rows, nextCursor: page.nextCursor };
}

/** A task's detail; `lostAfterS`: Z4J_WORKER_LOST_AFTER (workerGone). */
export async function getTask(db: Queryable, projectId: number, engine: string, taskId: string, lostAfterS: number) {
  const task = (
    await db.query(
      `SELECT ${TASK_SELECT}, t.traceback,
              t.sealed_payload IS NOT NULL AS "hasPayload"
         FROM tasks t WHERE t.project_id = $1 AND t.engine = $2 AND t.task_id = $3`,
      [projectId, engine, taskId],
    )
  ).rows[0];
  if (!task) return null;
  const [events, children, retries, reasons, workerGone] = await Promise.all([
    db.query<{ kind: string; fields: Record<string, unknown> | null }>(
      // Events of one moment (a millisecond: an enqueue z4j records and the worker's receipt) in
      // the order of an attempt, not of their ids.
      `SELECT event_id AS id, kind, occurred_at AS "occurredAt", worker, fields FROM task_events
        WHERE task_ref = $1 ORDER BY occurred_at, array_position($2::text[], kind), event_id LIMIT 1000`,
      [task.id, LIFECYCLE_ORDER],
    ),
    db.query(
      `SELECT t.engine, t.task_id AS "taskId", t.name, t.state FROM tasks t
        WHERE t.project_id = $1 AND t.parent_id = $2 AND t.engine = $3 ORDER BY t.first_seen_at LIMIT 1000`,
      [projectId, taskId, engine],
    ),
    // Retries from z4j: what this task was retried from, and what it was retried as (not those
    // that failed to be sent: no such task exists).
    db.query<{ original: string; retry: string }>(
      `SELECT original_task_id AS original, new_task_id AS retry FROM task_retries r
        WHERE project_id = $1 AND engine = $2 AND (new_task_id = $3 OR original_task_id = $3) AND ${SENT_RETRY}
        ORDER BY created_at LIMIT 1000`,
      [projectId, engine, taskId],
    ),
    db.query<{ reason: string }>('SELECT reason FROM task_reasons WHERE project_id = $1 AND engine = $2 AND task_id = $3', [projectId, engine, taskId]),
    // The worker holding a task that is received or started, when it is gone: the task will not end there.
    taskWorkerGone(db, projectId, engine, task as { state: string; worker: string | null }, lostAfterS),
  ]);
  // A task z4j sent through an agent: the agent's enqueue is the task's, z4j's reason goes on it
  // (migration 0029). One sent straight to the broker has z4j's own enqueue, with the reason.
  const reason = reasons.rows[0]?.reason;
  const enqueue = reason === undefined ? undefined : events.rows.find((ev) => ev.kind === 'enqueued');
  if (enqueue && typeof enqueue.fields?.reason !== 'string') enqueue.fields = { ...enqueue.fields, reason };
  const retryOf = retries.rows.find((r) => r.retry === taskId)?.original ?? null;
  const retriedAs = retries.rows.filter((r) => r.original === taskId).map((r) => r.retry);
  return { task: { ...task, retryOf, retriedAs, workerGone }, events: events.rows, children: children.rows };
}

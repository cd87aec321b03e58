// A Celery task sent by a producer with the agent is reported enqueued twice: by the agent at
// publish time (the exact call, redacted, and links Celery's events lack, such as the group; its
// retry payload travels beside it) and by Celery's own `task-sent`. The two cannot share an event
// id (the timeline is unique by id *and* time, and task-sent's time is Celery's), so the writer
// keeps one timeline row per (task, attempt): whichever arrives second is merged into the row of
// the first — the agent's fields win, Celery's add what the agent lacks (producer, exchange) — and
// is still folded into the task. Only Celery `enqueued` events pay for this (one lookup per batch
// that has any); the agent's alone, or task-sent alone, stay as they are.
import type { Queryable } from '../db/db.js';
import type { TaskEnvelope, TaskFields } from './envelope.js';

/** How the agent marks its Celery enqueue (fields.recordedBy): the one whose fields win. */
export const AGENT_MARK = 'z4j-agent';

// The timeline is found by its task's row id (task_ref, migration 0015).
const EXISTING_SQL = `
SELECT t.project_id AS p, t.task_id AS t, t.id::text AS r, e.event_id AS id, e.fields AS f
  FROM unnest($1::int[], $2::text[]) AS k(p, t)
  JOIN tasks t ON t.project_id = k.p AND t.engine = 'celery' AND t.task_id = k.t
  JOIN task_events e ON e.task_ref = t.id
 WHERE e.kind = 'enqueued'`;

const MERGE_SQL = `
UPDATE task_events e SET fields = u.f
  FROM json_to_recordset($1::json) AS u(r bigint, id text, f json)
 WHERE e.task_ref = u.r AND e.event_id = u.id AND e.kind = 'enqueued'`;

export interface Collapsed {
  /** Events to insert (Celery enqueues of one task and attempt in this batch already merged into one). */
  insert: TaskEnvelope[];
  /** Events merged into an existing timeline row instead: not inserted, still folded into their task. */
  merged: TaskEnvelope[];
}

const isCeleryEnqueue = (ev: TaskEnvelope) => ev.engine === 'celery' && ev.kind === 'enqueued';
const byAgent = (f: TaskFields) => f.recordedBy === AGENT_MARK;
const attemptOf = (f: TaskFields) => (typeof f.retries === 'number' ? f.retries : Number(f.retries ?? 0) || 0);

/** `first`'s fields with `second`'s added; where both have a field, the agent's wins, else the first's. */
export function mergeEnqueueFields(first: TaskFields, second: TaskFields): TaskFields {
  return byAgent(second) && !byAgent(first) ? { ...first, ...second } : { ...second, ...first };
}

const changes = (before: TaskFields, after: TaskFields) =>
  Object.keys(after).some((k) => !(k in before) || JSON.stringify(after[k]) !== JSON.stringify(before[k]));

export async function collapseCeleryEnqueues(tx: Queryable, events: TaskEnvelope[], projectOf: (ev: TaskEnvelope) => number): Promise<Collapsed> {
  if (!events.some(isCeleryEnqueue)) return { insert: events, merged: [] };
  const key = (p: number, taskId: string, attempt: number) => `${p}\u0000${taskId}\u0000${attempt}`;

  // One per (task, attempt) within the batch: the earliest keeps its id and time.
  const kept = new Map<string, TaskEnvelope>();
  const others: TaskEnvelope[] = [];
  for (const ev of events) {
    if (!isCeleryEnqueue(ev)) {
      others.push(ev);
      continue;
    }
    const k = key(projectOf(ev), ev.taskId, attemptOf(ev.fields));
    const prev = kept.get(k);
    if (!prev) kept.set(k, ev);
    else {
      const [first, second] = prev.occurredAt <= ev.occurredAt ? [prev, ev] : [ev, prev];
      // The agent's sealed retry payload rides with its envelope, whichever of the two is kept.
      const sealedPayload = first.sealedPayload ?? second.sealedPayload;
      kept.set(k, { ...first, fields: mergeEnqueueFields(first.fields, second.fields), ...(sealedPayload && { sealedPayload }) });
    }
  }

  // Rows stored before (by an earlier batch): merge into them.
  const tasks = [...kept.values()];
  const existing = await tx.query<{ p: number; t: string; r: string; id: string; f: TaskFields }>(EXISTING_SQL, [tasks.map(projectOf), tasks.map((ev) => ev.taskId)], { name: 'z4j_celery_enqueues' });
  const rows = new Map(existing.rows.map((r) => [key(r.p, r.t, attemptOf(r.f)), r]));
  const insert = others;
  const merged: TaskEnvelope[] = [];
  const updates: { r: string; id: string; f: TaskFields }[] = [];
  for (const [k, ev] of kept) {
    const row = rows.get(k);
    if (!row || row.id === ev.id) {
      insert.push(ev); // new, or this very event delivered again (the insert sees the duplicate)
      continue;
    }
    const fields = mergeEnqueueFields(row.f, ev.fields);
    if (changes(row.f, fields)) updates.push({ r: row.r, id: row.id, f: fields });
    merged.push(ev);
  }
  if (updates.length) await tx.query(MERGE_SQL, [JSON.stringify(updates)], { name: 'z4j_merge_celery_enqueues' });
  return { insert, merged };
}

// A Celery task sent by a producer with the agent is reported enqueued twice: by the agent at
// publish time (the exact call, redacted, and links Celery's events lack, such as the group; its
// retry payload travels beside it) and by Celery's own `task-sent`. The two cannot share an event
// id (the timeline is unique by id *and* time, and task-sent's time is Celery's), so the writer
// keeps one timeline row per (task, attempt): whichever arrives second is merged into the row of
// the first — the agent's fields win, Celery's add what the agent lacks (producer, exchange) — and
// is still folded into the task. Only Celery `enqueued` events of tasks that already had a row pay
// for this (one lookup per batch that has any, under the rows' locks); the agent's alone, or
// task-sent alone, stay as they are.
import type { Queryable } from '../db/db.js';
import type { TaskEnvelope, TaskFields } from './envelope.js';

/** How the agent marks its Celery enqueue (fields.recordedBy): the one whose fields win. */
export const AGENT_MARK = 'z4j-agent';

// The enqueued rows stored for tasks whose rows the writer holds locked (task_ref: migration 0015).
const STORED_SQL = `
SELECT e.task_ref::text AS r, e.event_id AS id, e.fields AS f
  FROM task_events e
 WHERE e.task_ref = ANY($1::bigint[]) AND e.kind = 'enqueued'`;

const MERGE_SQL = `
UPDATE task_events e SET fields = u.f
  FROM json_to_recordset($1::json) AS u(r bigint, id text, f json)
 WHERE e.task_ref = u.r AND e.event_id = u.id AND e.kind = 'enqueued'`;

const isCeleryEnqueue = (ev: TaskEnvelope) => ev.engine === 'celery' && ev.kind === 'enqueued';
const byAgent = (f: TaskFields) => f.recordedBy === AGENT_MARK;
const attemptOf = (f: TaskFields) => (typeof f.retries === 'number' ? f.retries : Number(f.retries ?? 0) || 0);

/** `first`'s fields with `second`'s added; where both have a field, the agent's wins, else the first's. */
export function mergeEnqueueFields(first: TaskFields, second: TaskFields): TaskFields {
  return byAgent(second) && !byAgent(first) ? { ...first, ...second } : { ...second, ...first };
}

const changes = (before: TaskFields, after: TaskFields) =>
  Object.keys(after).some((k) => !(k in before) || JSON.stringify(after[k]) !== JSON.stringify(before[k]));

/** The batch's events with each task's Celery enqueues of one attempt as one: the earliest keeps its id and time, with both sides' fields. */
export function collapseInBatch(events: TaskEnvelope[], projectOf: (ev: TaskEnvelope) => number): TaskEnvelope[] {
  if (!events.some(isCeleryEnqueue)) return events;
  const key = (ev: TaskEnvelope) => `${projectOf(ev)}\u0000${ev.taskId}\u0000${attemptOf(ev.fields)}`;
  const kept = new Map<string, TaskEnvelope>();
  const others: TaskEnvelope[] = [];
  for (const ev of events) {
    if (!isCeleryEnqueue(ev)) {
      others.push(ev);
      continue;
    }
    const k = key(ev);
    const prev = kept.get(k);
    if (!prev) kept.set(k, ev);
    else {
      const [first, second] = prev.occurredAt <= ev.occurredAt ? [prev, ev] : [ev, prev];
      // The agent's sealed retry payload rides with its envelope, whichever of the two is kept.
      const sealedPayload = first.sealedPayload ?? second.sealedPayload;
      kept.set(k, { ...first, fields: mergeEnqueueFields(first.fields, second.fields), ...(sealedPayload && { sealedPayload }) });
    }
  }
  return [...others, ...kept.values()];
}

/**
 * Merges the Celery enqueues of tasks that already had a row into the enqueued row an earlier
 * batch stored for the same attempt, if any; returns those merged (to fold, not to insert).
 *
 * The caller holds the tasks' rows locked (`refOf`: each event's task row id), so what is
 * stored is what every other writer committed: read before the lock, two replicas writing the
 * agent's enqueue and task-sent at once each found none, and the task got both rows.
 */
export async function mergeIntoStored(tx: Queryable, events: TaskEnvelope[], refOf: (ev: TaskEnvelope) => string): Promise<TaskEnvelope[]> {
  const enqueues = events.filter(isCeleryEnqueue);
  if (!enqueues.length) return [];
  const key = (ref: string, attempt: number) => `${ref}\u0000${attempt}`;
  const stored = await tx.query<{ r: string; id: string; f: TaskFields }>(STORED_SQL, [[...new Set(enqueues.map(refOf))]], { name: 'z4j_celery_enqueues' });
  const rows = new Map(stored.rows.map((r) => [key(r.r, attemptOf(r.f)), r]));
  const merged: TaskEnvelope[] = [];
  const updates: { r: string; id: string; f: TaskFields }[] = [];
  for (const ev of enqueues) {
    const row = rows.get(key(refOf(ev), attemptOf(ev.fields)));
    if (!row || row.id === ev.id) continue; // new, or this very event delivered again (the stored ids have it)
    const fields = mergeEnqueueFields(row.f, ev.fields);
    if (changes(row.f, fields)) updates.push({ r: row.r, id: row.id, f: fields });
    merged.push(ev);
  }
  if (updates.length) await tx.query(MERGE_SQL, [JSON.stringify(updates)], { name: 'z4j_merge_celery_enqueues' });
  return merged;
}

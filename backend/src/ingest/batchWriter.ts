// Writes one batch of validated envelopes in one transaction: new events into the timeline
// (idempotent by event id), their tasks folded forward, worker and queue rows refreshed.
// A handful of statements per batch (on PostgreSQL the timeline and the new tasks by COPY),
// never one round trip per event.
//
// Idempotency is the writer's, under the task's row lock, not a unique index's: a task's row
// is created or locked before its events are written, so two transactions never write events
// of one task at once; a task that had no row has no stored events, and for one that had, the
// ids it already has are read first. A unique index with ON CONFLICT on the timeline cost
// ≈ 6 µs of PostgreSQL per event, a seventh of the whole (BENCHMARKS.md); reading the ids back
// costs that only for the few tasks that already existed.
import { copyField, copyJson, type Db, type Queryable } from '../db/db.js';
import { collapseInBatch, mergeIntoStored } from './celeryEnqueues.js';
import type { Envelope, TaskEnvelope, WorkerEnvelope } from './envelope.js';
import { foldEvents, needsRefold, type TaskRow } from './taskState.js';
import { inheritRoots } from './taskRoots.js';
import {
  COPY_STAGED_TASKS_SQL,
  CREATE_STAGED_TASKS_SQL,
  INSERT_STAGED_TASKS_SQL,
  INSERT_TASKS_SQL,
  SELECT_TASKS_FOR_UPDATE_SQL,
  STORE_LATE_PAYLOADS_SQL,
  UPDATE_TASKS_SQL,
  stagedTaskRows,
  taskParams,
  type KeyedTask,
} from './taskColumns.js';

export interface WriteResult {
  /** Events stored for the first time. */
  persisted: TaskEnvelope[];
  duplicates: number;
  workerEvents: WorkerEnvelope[];
  /** Envelopes naming a project that does not exist (not written). */
  unknownProject: Envelope[];
}

// An event's task_ref is its task's row id (migration 0015): the timeline's index is on it.
export const INSERT_EVENTS_SQL = `
INSERT INTO task_events (project_id, engine, task_id, task_ref, event_id, kind, occurred_at, worker, fields)
SELECT u.p, u.e, u.t, u.r, u.id, u.k, to_timestamp(u.ms / 1000.0), u.w, u.f
  FROM json_to_recordset($1::json) AS u(p int, e text, t text, r bigint, id text, k text, ms float8, w text, f json)`;

const COPY_EVENTS_SQL = 'COPY task_events (project_id, engine, task_id, task_ref, event_id, kind, occurred_at, worker, fields) FROM STDIN';

/**
 * The SQLSTATE of a batch that met a concurrent change (serialization_failure): the pipeline
 * retries it whole, as it retries PostgreSQL's own. Raised for a project deleted meanwhile
 * (holdProjectsSql) and a task row gone meanwhile (retryBatch).
 */
const RETRY_BATCH = '40001';

/**
 * What the foreign key from tasks to projects did (migration 0011), once per batch instead of
 * once per row: the batch's projects are key-share locked, so a project deleted meanwhile
 * waits for this commit and its trigger then removes what was written. A project already gone
 * (the id was cached before it was deleted) fails the batch as retryable, and the retry reads
 * the projects anew: its events are then refused as of an unknown project, never stored
 * without one. A statement without parameters (the ids are the database's own integers), so
 * that it goes in the transaction's prelude.
 */
function holdProjectsSql(ids: number[]): string | null {
  if (!ids.length) return null;
  if (!ids.every(Number.isSafeInteger)) throw new Error('project ids must be integers');
  return `DO $hold$ BEGIN
  IF (SELECT count(*) FROM (SELECT FROM projects WHERE id IN (${ids.join(', ')}) FOR KEY SHARE) held) < ${ids.length} THEN
    RAISE EXCEPTION 'a project was deleted while its events were written' USING ERRCODE = '${RETRY_BATCH}';
  END IF;
END $hold$`;
}

// A worker's times are its own clock's, but never past the database's: one heartbeat from a clock
// far ahead would otherwise outrank every later one (and the goodbye) until that time came.
const UPSERT_WORKERS_SQL = `
INSERT INTO workers AS w (project_id, engine, hostname, online, first_seen_at, last_seen_at, offline_at,
                          heartbeat_s, active, processed, loadavg, pid, software, concurrency, dropped, payloads_dropped)
SELECT u.p, u.e, u.h, u.online, least(to_timestamp(u.ms / 1000.0), now()), least(to_timestamp(u.ms / 1000.0), now()),
       CASE WHEN u.online THEN NULL ELSE least(to_timestamp(u.ms / 1000.0), now()) END,
       u.freq, u.active, u.processed, u.loadavg::jsonb, u.pid, u.sw, u.conc, u.dropped, u.pdropped
  FROM unnest($1::int[], $2::text[], $3::text[], $4::bool[], $5::float8[], $6::float8[], $7::int[], $8::bigint[],
              $9::text[], $10::int[], $11::text[], $12::int[], $13::bigint[], $14::bigint[])
       AS u(p, e, h, online, ms, freq, active, processed, loadavg, pid, sw, conc, dropped, pdropped)
ON CONFLICT (project_id, engine, hostname) DO UPDATE SET
  online = excluded.online,
  last_seen_at = excluded.last_seen_at,
  offline_at = excluded.offline_at,
  heartbeat_s = coalesce(excluded.heartbeat_s, w.heartbeat_s),
  active = coalesce(excluded.active, w.active),
  processed = coalesce(excluded.processed, w.processed),
  loadavg = coalesce(excluded.loadavg, w.loadavg),
  pid = coalesce(excluded.pid, w.pid),
  software = coalesce(excluded.software, w.software),
  concurrency = coalesce(excluded.concurrency, w.concurrency),
  dropped = coalesce(excluded.dropped, w.dropped),
  payloads_dropped = coalesce(excluded.payloads_dropped, w.payloads_dropped)
WHERE w.last_seen_at <= excluded.last_seen_at`;

const UPSERT_QUEUES_SQL = `
INSERT INTO queues AS q (project_id, engine, name, first_seen_at, last_seen_at)
SELECT u.p, u.e, u.n, to_timestamp(u.ms / 1000.0), to_timestamp(u.ms / 1000.0)
  FROM unnest($1::int[], $2::text[], $3::text[], $4::float8[]) AS u(p, e, n, ms)
ON CONFLICT (project_id, engine, name) DO UPDATE SET last_seen_at = greatest(q.last_seen_at, excluded.last_seen_at)`;

// Every statement here reads or writes rows by key (a batch's few thousand tasks and events),
// never a table whole. Left to itself the planner sometimes chose otherwise and kept it: a
// generic plan for the prepared update, made while `tasks` was small, joined by a sequential
// scan, so as the table grew every batch's update read all of it; and with a key list of a few
// hundred against a table of tens of thousands it hashed the whole table rather than probe the
// index. Both cost tens of ms per batch and grow with the table (BENCHMARKS.md). So, for this
// transaction only: plans made for the actual rows, and sequential scans as a last resort. A
// scan so penalised costs past jit_above_cost, and the one legitimate scan (the staged rows)
// would then be compiled each time: no JIT for these statements.
const KEY_LOOKUP_PLANS_SQL = 'SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL enable_seqscan = off; SET LOCAL jit = off';

// Events of a batch fall within a few seconds: the date and time to the second are formatted
// once per second, not per event (toISOString cost ≈ 1 µs, a tenth of the event's own cost).
let copySecond = Number.NaN;
let copySecondText = '';
/** Epoch milliseconds as COPY text for a timestamptz (ISO 8601, UTC). */
function copyTime(time: number): string {
  const ms = Math.round(time); // validation allows fractions; the timeline keeps milliseconds
  const second = Math.floor(ms / 1000);
  if (second !== copySecond) {
    copySecond = second;
    copySecondText = new Date(second * 1000).toISOString().slice(0, 19);
  }
  const milli = ms - second * 1000;
  return `${copySecondText}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

/** A conflict with a concurrent change, found by the writer: the pipeline retries the whole batch. */
const retryBatch = (why: string) => Object.assign(new Error(why), { code: RETRY_BATCH });

/** One task's events for the timeline, with its row id (task_ref). */
interface TimelineGroup {
  ref: string;
  projectId: number;
  events: TaskEnvelope[];
}

const taskKey = (projectId: number, engine: string, taskId: string) => `${projectId}\u0000${engine}\u0000${taskId}`;

export class BatchWriter {
  private projectIds = new Map<string, number>();

  constructor(private readonly db: Db) {}

  async write(batch: readonly Envelope[]): Promise<WriteResult> {
    await this.resolveProjects(batch);
    const unknownProject: Envelope[] = [];
    let taskEventCount = 0;
    const taskEvents = new Map<string, TaskEnvelope>(); // by event id: duplicates inside a batch collapse
    const workerEvents: WorkerEnvelope[] = [];
    for (const ev of batch) {
      if (!this.projectIds.has(ev.project)) unknownProject.push(ev);
      else if (ev.type === 'task') {
        taskEventCount++;
        taskEvents.set(ev.id, ev);
      }
      else workerEvents.push(ev);
    }
    const tasks = [...taskEvents.values()];
    // What every batch does first, sent with BEGIN in one round trip: the settings, the staging
    // table (on PostgreSQL, the session's: made on a connection's first batch, quietly after
    // that), the projects held.
    const prelude = [KEY_LOOKUP_PLANS_SQL];
    if (this.db.storage === 'postgres') prelude.push('SET LOCAL client_min_messages = warning', CREATE_STAGED_TASKS_SQL);
    const hold = holdProjectsSql([...new Set([...tasks, ...workerEvents].map((ev) => this.pid(ev)))]);
    if (hold) prelude.push(hold);
    try {
      const persisted = await this.db.transaction(async (tx) => {
        // A Celery task's enqueue reported by both the agent and task-sent: one row (celeryEnqueues.ts).
        const fresh = await this.storeTaskEvents(tx, collapseInBatch(tasks, (ev) => this.pid(ev)));
        await this.upsertWorkers(tx, workerEvents);
        return fresh;
      }, prelude.join('; '));
      return { persisted, duplicates: taskEventCount - persisted.length, workerEvents, unknownProject };
    } catch (err) {
      // The retry reads the projects anew: one of them may be what was deleted.
      if ((err as { code?: string }).code === RETRY_BATCH) this.projectIds.clear();
      throw err;
    }
  }

  private async resolveProjects(batch: readonly Envelope[]): Promise<void> {
    if (batch.every((ev) => this.projectIds.has(ev.project))) return;
    const rows = await this.db.query<{ id: number; slug: string }>('SELECT id, slug FROM projects');
    this.projectIds = new Map(rows.rows.map((r) => [r.slug, r.id]));
  }

  private pid(ev: Envelope): number {
    return this.projectIds.get(ev.project)!;
  }

  /**
   * Stores the events not stored before and folds them into their tasks; returns them (with the
   * Celery enqueues merged into a row stored before, which are folded but not inserted).
   *
   * Most tasks of a batch are new: each is inserted as its events fold from nothing, and only
   * those that already had a row (the insert skipped them) are locked and read, with the ids of
   * their stored events. Probing every task first cost a second index lookup per new task.
   */
  private async storeTaskEvents(tx: Queryable, events: TaskEnvelope[]): Promise<TaskEnvelope[]> {
    const byTask = new Map<string, { projectId: number; events: TaskEnvelope[] }>();
    for (const ev of events) {
      const projectId = this.pid(ev);
      const k = taskKey(projectId, ev.engine, ev.taskId);
      const entry = byTask.get(k) ?? byTask.set(k, { projectId, events: [] }).get(k)!;
      entry.events.push(ev);
    }
    if (!byTask.size) return [];
    const identity = (k: string): [number, string, string] => {
      const { projectId, events: [ev] } = byTask.get(k)!;
      return [projectId, ev!.engine, ev!.taskId];
    };
    // In key order: concurrent writers (replicas) meet on the unique index in one order.
    const keys = [...byTask.keys()].sort();
    // A task's sealed retry payload (the agent's, docs/agent-protocol.md) is stored with its row,
    // in the transaction of its events: a task shown enqueued can always be retried. The first
    // one stored wins (a redelivery or a second agent's copy is the same task's).
    const sealedOf = (k: string) => byTask.get(k)!.events.find((ev) => ev.sealedPayload)?.sealedPayload;
    const inserts: KeyedTask[] = keys.map((k) => ({ projectId: byTask.get(k)!.projectId, row: foldEvents(null, byTask.get(k)!.events), sealed: sealedOf(k) }));
    const created = await this.insertTasks(tx, inserts);
    // Row ids by task key: the events' task_ref. A new task's from the insert, an existing one's from its lock.
    const refs = new Map(created.rows.map((r) => [taskKey(r.project_id, r.engine, r.task_id), r.ref]));
    if (created.rows.length === inserts.length) {
      // Every task is new: no other writer stored anything for them (it would have made the row).
      await this.insertEvents(tx, keys.map((k) => ({ ref: refs.get(k)!, projectId: byTask.get(k)!.projectId, events: byTask.get(k)!.events })));
      await inheritRoots(tx, inserts);
      await this.upsertQueues(tx, inserts);
      return events;
    }

    const made = new Set(refs.keys());
    const existing = keys.filter((k) => !made.has(k));
    const existingIds = existing.map(identity);
    const { current, stored } = await this.lockTasks(tx, existingIds, refs);
    if (current.size < existing.length) {
      // Skipped by the insert yet gone now: deleted meanwhile.
      throw retryBatch('a task row vanished while its batch was written');
    }
    // Under the rows' locks: another replica's enqueue of these tasks is committed by now.
    const refOf = (ev: TaskEnvelope) => refs.get(taskKey(this.pid(ev), ev.engine, ev.taskId))!;
    const mergedEvents = new Set(await mergeIntoStored(tx, existing.flatMap((k) => byTask.get(k)!.events), refOf));
    const toInsert = (evs: TaskEnvelope[]) => (mergedEvents.size ? evs.filter((ev) => !mergedEvents.has(ev)) : evs);
    // New tasks have no stored events; existing ones keep (and fold) only what is new to them
    // (merged enqueues are: their ids are not stored). A task whose events were all stored
    // before is left as it is.
    const freshInsert: TaskEnvelope[] = [];
    const eventGroups: TimelineGroup[] = [];
    const changed: { k: string; evs: TaskEnvelope[] }[] = [];
    for (const k of keys) {
      const { projectId, events: evs } = byTask.get(k)!;
      const seen = stored.get(k);
      const fresh = seen ? evs.filter((ev) => !seen.has(ev.id)) : evs;
      const insertable = toInsert(fresh);
      if (insertable.length) {
        freshInsert.push(...insertable);
        eventGroups.push({ ref: refs.get(k)!, projectId, events: insertable });
      }
      if (!made.has(k) && fresh.length) changed.push({ k, evs: fresh });
    }
    await this.insertEvents(tx, eventGroups);

    const late = changed.filter(({ k, evs }) => needsRefold(current.get(k)!, evs));
    const timelines = await this.loadTimelines(tx, late.map(({ k }) => refs.get(k)!));
    const updates: KeyedTask[] = changed.map(({ k, evs }) => {
      const timeline = timelines.get(k);
      return { projectId: byTask.get(k)!.projectId, row: timeline ? foldEvents(null, timeline) : foldEvents(current.get(k)!, evs) };
    });
    if (updates.length) await tx.query(UPDATE_TASKS_SQL, taskParams(updates), { name: 'z4j_update_tasks' });
    await this.storeLatePayloads(tx, existing.flatMap((k) => {
      const sealed = sealedOf(k);
      return sealed ? [{ key: identity(k), sealed }] : [];
    }));
    const newRows = inserts.filter((t) => made.has(taskKey(t.projectId, t.row.engine, t.row.taskId)));
    await inheritRoots(tx, [...newRows, ...updates]);
    await this.upsertQueues(tx, [...newRows, ...updates]);
    return [...freshInsert, ...mergedEvents];
  }

  private async storeLatePayloads(tx: Queryable, payloads: { key: [number, string, string]; sealed: Buffer }[]): Promise<void> {
    if (!payloads.length) return;
    const column = (i: 0 | 1 | 2) => payloads.map((p) => p.key[i]);
    await tx.query(STORE_LATE_PAYLOADS_SQL, [column(0), column(1), column(2), payloads.map((p) => p.sealed)], { name: 'z4j_store_late_payloads' });
  }

  /** Inserts the tasks that have no row yet, in the given order; returns the keys it inserted. */
  private async insertTasks(tx: Queryable, tasks: KeyedTask[]) {
    type Created = { project_id: number; engine: string; task_id: string; ref: string };
    if (!tx.copyFrom) return tx.query<Created>(INSERT_TASKS_SQL, taskParams(tasks), { name: 'z4j_insert_tasks' });
    await tx.copyFrom(COPY_STAGED_TASKS_SQL, stagedTaskRows(tasks));
    return tx.query<Created>(INSERT_STAGED_TASKS_SQL, [], { name: 'z4j_insert_staged_tasks' });
  }

  /** Inserts events into the timeline, task by task: those of one task share its identity and row id. */
  private async insertEvents(tx: Queryable, groups: TimelineGroup[]): Promise<void> {
    if (!groups.some((g) => g.events.length)) return;
    if (tx.copyFrom) {
      // COPY parses plain text rows instead of a JSON document (≈ 2–4 µs less of PostgreSQL per event).
      let text = '';
      for (const { ref, projectId, events } of groups) {
        if (!events.length) continue;
        const task = `${projectId}\t${events[0]!.engine}\t${copyField(events[0]!.taskId)}\t${ref}\t`;
        for (const ev of events) {
          text += `${task}${copyField(ev.id)}\t${ev.kind}\t${copyTime(ev.occurredAt)}\t${copyField(ev.worker)}\t${copyJson(JSON.stringify(ev.fields))}\n`;
        }
      }
      return tx.copyFrom(COPY_EVENTS_SQL, text);
    }
    const rows = groups.flatMap(({ ref, projectId, events }) => events.map((ev) => (
      { p: projectId, e: ev.engine, t: ev.taskId, r: ref, id: ev.id, k: ev.kind, ms: Math.round(ev.occurredAt), w: ev.worker, f: ev.fields }
    )));
    await tx.query(INSERT_EVENTS_SQL, [JSON.stringify(rows)], { name: 'z4j_insert_events' });
  }

  /**
   * The current rows (and row ids) of tasks the insert skipped, locked, with the ids of the
   * events each has stored (one round trip for both), by task key.
   */
  private async lockTasks(tx: Queryable, keys: [number, string, string][], refs: Map<string, string>) {
    const res = await tx.query<TaskRow & { projectId: number; ref: string; storedIds: string[] }>(
      SELECT_TASKS_FOR_UPDATE_SQL,
      [keys.map((k) => k[0]), keys.map((k) => k[1]), keys.map((k) => k[2])],
      { name: 'z4j_lock_tasks' },
    );
    const current = new Map<string, TaskRow>();
    const stored = new Map<string, Set<string>>();
    for (const { projectId, ref, storedIds, ...row } of res.rows) {
      const k = taskKey(projectId, row.engine, row.taskId);
      current.set(k, row);
      stored.set(k, new Set(storedIds));
      refs.set(k, ref);
    }
    return { current, stored };
  }

  /** Whole timelines (this batch's events included) of tasks that received late events. */
  private async loadTimelines(tx: Queryable, taskRefs: string[]): Promise<Map<string, TaskEnvelope[]>> {
    const out = new Map<string, TaskEnvelope[]>();
    if (!taskRefs.length) return out;
    const res = await tx.query<{ project_id: number; engine: TaskEnvelope['engine']; task_id: string; event_id: string; kind: TaskEnvelope['kind']; ms: number; worker: string | null; fields: TaskEnvelope['fields'] }>(
      `SELECT e.project_id, e.engine, e.task_id, e.event_id, e.kind, round(extract(epoch FROM e.occurred_at) * 1000)::float8 AS ms, e.worker, e.fields
         FROM task_events e WHERE e.task_ref = ANY($1::bigint[])`,
      [taskRefs],
    );
    for (const r of res.rows) {
      const k = taskKey(r.project_id, r.engine, r.task_id);
      const list = out.get(k) ?? out.set(k, []).get(k)!;
      list.push({ v: 1, type: 'task', id: r.event_id, engine: r.engine, project: '', kind: r.kind, taskId: r.task_id, occurredAt: Math.round(r.ms), worker: r.worker ?? undefined, fields: r.fields });
    }
    return out;
  }

  private async upsertQueues(tx: Queryable, tasks: KeyedTask[]): Promise<void> {
    const seen = new Map<string, [number, string, string, number]>();
    for (const { projectId, row } of tasks) {
      if (row.queue) seen.set(taskKey(projectId, row.engine, row.queue), [projectId, row.engine, row.queue, row.lastEventAt]);
    }
    if (!seen.size) return;
    const rows = [...seen.values()].sort((a, b) => (a[2] < b[2] ? -1 : 1)); // fixed lock order
    await tx.query(UPSERT_QUEUES_SQL, [0, 1, 2, 3].map((i) => rows.map((r) => r[i])), { name: 'z4j_upsert_queues' });
  }

  private async upsertWorkers(tx: Queryable, events: WorkerEnvelope[]): Promise<void> {
    if (!events.length) return;
    // One row per worker: the newest event, with fields the newer events left out taken from older ones.
    const latest = new Map<string, WorkerEnvelope>();
    for (const ev of [...events].sort((a, b) => a.occurredAt - b.occurredAt)) {
      const k = taskKey(this.pid(ev), ev.engine, ev.worker);
      const prev = latest.get(k);
      const fields = Object.fromEntries(Object.entries(ev.fields).filter(([, v]) => v !== undefined));
      latest.set(k, prev ? { ...ev, fields: { ...prev.fields, ...fields } } : ev);
    }
    const rows = [...latest.values()].sort((a, b) => (a.worker < b.worker ? -1 : 1));
    const f = (ev: WorkerEnvelope) => ev.fields;
    await tx.query(
      UPSERT_WORKERS_SQL,
      [
        rows.map((ev) => this.pid(ev)),
        rows.map((ev) => ev.engine),
        rows.map((ev) => ev.worker),
        rows.map((ev) => ev.kind !== 'worker-offline'),
        rows.map((ev) => ev.occurredAt),
        rows.map((ev) => f(ev).freq ?? null),
        rows.map((ev) => f(ev).active ?? null),
        rows.map((ev) => f(ev).processed ?? null),
        rows.map((ev) => (f(ev).loadavg ? JSON.stringify(f(ev).loadavg) : null)),
        rows.map((ev) => f(ev).pid ?? null),
        rows.map((ev) => f(ev).software ?? null),
        rows.map((ev) => f(ev).concurrency ?? null),
        rows.map((ev) => f(ev).dropped ?? null),
        rows.map((ev) => f(ev).payloadsDropped ?? null),
      ],
      { name: 'z4j_upsert_workers' },
    );
  }
}

// Folding events into a task's current state. Events arrive late, twice and out of order;
// the state only moves forward under (attempt, rank), so a late `started` never overwrites
// `succeeded`, and a retry opens the next attempt.
import type { Engine, TaskEnvelope, TaskKind } from './envelope.js';

export type TaskState = TaskKind;

/** Position of a state within one attempt. Terminal states share the top rank. */
const RANK: Record<TaskKind, number> = {
  enqueued: 1,
  received: 2,
  started: 3,
  retried: 4,
  succeeded: 5,
  failed: 5,
  revoked: 5,
  rejected: 5,
  expired: 5,
};

/** A task's event kinds in the order of an attempt (a timeline's order for events of one moment). */
export const LIFECYCLE_ORDER: readonly TaskKind[] = (Object.keys(RANK) as TaskKind[]).sort((a, b) => RANK[a] - RANK[b]);

/**
 * How long after an attempt began the report closing the attempt before it can still come
 * (the retry's publish, its delivery and start on another worker, that worker's clock).
 */
const LATE_REPORT_MS = 2000;

/** What a worker reports of a run it made (never before that run's `received`, on Celery). */
const RUN_KINDS: ReadonlySet<TaskKind> = new Set(['started', 'succeeded', 'failed']);

export const TERMINAL_STATES: readonly TaskState[] = ['succeeded', 'failed', 'revoked', 'rejected', 'expired'];

/** A task row as the fold sees it (times in ms since the epoch). */
export interface TaskRow {
  engine: Engine;
  taskId: string;
  state: TaskState;
  attempt: number;
  /** Earliest time known to belong to the current attempt (the retry that opened it, or its first event). */
  attemptAt: number;
  stateAt: number;
  name: string | null;
  queue: string | null;
  args: unknown;
  kwargs: unknown;
  result: unknown;
  exception: string | null;
  traceback: string | null;
  worker: string | null;
  retries: number;
  /**
   * How many `retried` events the task has had. Celery's task-retried does not say which attempt
   * it closes, and arrives after the retry's message is published, maybe received and started by
   * another worker thread: one is sent per attempt retried, so the n-th closes attempt n − 1.
   * Null in rows stored before it was kept.
   */
  retriedCount: number | null;
  rootId: string | null;
  parentId: string | null;
  groupId: string | null;
  eta: number | null;
  /** When the current attempt's message expires (its `expires`): no worker runs it after that. */
  expiresAt: number | null;
  sentAt: number | null;
  receivedAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  runtimeMs: number | null;
  waitMs: number | null;
  firstSeenAt: number;
  lastEventAt: number;
}

/**
 * The attempt an event belongs to. Attempts follow each other in time, so an event that does
 * not say its attempt (Celery's started / succeeded / failed do not) belongs to the attempt
 * running at its time: the next one if the task is waiting after a retry and the event is
 * newer, an earlier (stale) one if it predates the current attempt, else the current one.
 */
function attemptOf(ev: TaskEnvelope, cur: TaskRow | null): number {
  if (ev.fields.retries !== undefined) return ev.fields.retries;
  if (!cur) return 0;
  // Celery publishes the retry (the next attempt's message) before it reports `retried`: the
  // next attempt may be waiting, received or even running by then. Retries come one per attempt.
  if (ev.kind === 'retried') {
    const closes = retriedSoFar(cur);
    // The report closing the previous attempt is sent moments after the current attempt's
    // message was published, never seconds after the current attempt began: one that late
    // closes the current attempt, the previous one's report having been lost.
    return closes < cur.attempt && ev.occurredAt - cur.attemptAt > LATE_REPORT_MS ? cur.attempt : closes;
  }
  if (cur.state === 'retried' && ev.occurredAt >= cur.stateAt) return cur.attempt + 1;
  // A Celery worker reports every delivery received (with its attempt) before it runs it: an
  // attempt only published so far (the retry's task-sent, from the pool child) has run nothing
  // yet, so a start or an outcome of a run is the previous attempt's (the parent's clock or its
  // report can put it after the retry's publish). A revoke or an expiry is not a run: a worker
  // reports those of a waiting message without a received.
  if (ev.engine === 'celery' && cur.attempt > 0 && cur.state === 'enqueued' && cur.receivedAt === null && RUN_KINDS.has(ev.kind)) return cur.attempt - 1;
  if (cur.attempt > 0 && ev.occurredAt < cur.attemptAt) return cur.attempt - 1;
  return cur.attempt;
}

/**
 * The `retried` events a task has had. At most the one closing the attempt before the current
 * can still be on its way (a retry's message is published before its task-retried): a count
 * lower than that means reports were lost (Celery's events are), and it is made up. Within
 * LATE_REPORT_MS of an attempt's start a lost report and a late one look alike: the next
 * report is then taken for the late one.
 */
function retriedSoFar(cur: TaskRow): number {
  if (cur.state === 'retried') return Math.max(cur.retriedCount ?? 0, cur.attempt + 1);
  // A row stored before the count was kept: what the fold knew then. A next attempt only
  // published, not yet started, waits for the report closing the one before it.
  const count = cur.retriedCount ?? (cur.attempt > 0 && cur.startedAt === null && RANK[cur.state] < RANK.started ? cur.attempt - 1 : cur.attempt);
  return Math.max(count, cur.attempt - 1);
}

/**
 * An event that names a later attempt but happened before the current state means the
 * current state was wrongly taken for an earlier attempt (its events arrived first): it
 * belongs to the named attempt. A `retried` state always closes its attempt, so it stays.
 */
function relabel(cur: TaskRow | null, ev: TaskEnvelope): TaskRow | null {
  const named = ev.fields.retries;
  if (!cur || named === undefined || named <= cur.attempt || cur.state === 'retried' || ev.occurredAt > cur.stateAt) return cur;
  return { ...cur, attempt: named, attemptAt: Math.min(cur.attemptAt, ev.occurredAt) };
}

function isAfter(attempt: number, kind: TaskKind, cur: TaskRow): boolean {
  if (attempt !== cur.attempt) return attempt > cur.attempt;
  return RANK[kind] > RANK[cur.state] || failureOverRejection(kind, cur.state);
}

/**
 * A run's failure says more than the rejection that ends the same attempt: Dramatiq reports a
 * message out of retries as failed and, in the same millisecond, rejected to its dead-letter
 * queue. Two reports of one moment cannot be ordered by time, and they may be stored in either
 * order (different batches): the attempt ends failed whichever comes first.
 */
const failureOverRejection = (kind: TaskKind, state: TaskState): boolean => kind === 'failed' && state === 'rejected';

/** A date and time without a zone: Python's naive datetime, as Huey and Celery write UTC times. */
const NO_ZONE = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$/;

/** An ISO 8601 time; one without a zone is UTC (JavaScript would read it in the service's own zone). */
const parseTime = (s: string | null | undefined): number | null => {
  if (!s) return null;
  const t = Date.parse(NO_ZONE.test(s) ? `${s}Z` : s);
  return Number.isFinite(t) ? t : null;
};

/**
 * `fields.markedBy` of an event z4j made where no engine said so: a waiting task's expiry
 * (ingest/expirySweep.ts: an RQ job's key expires without a word, so its task would wait for
 * ever), a RabbitMQ purge's mark (isPurgeMark), an outcome read from a Celery result backend.
 */
export const Z4J_MARKER = 'z4j';

/**
 * A mark is an inference, not a report: it holds only while the attempt it names is still
 * waiting once every report is folded. A worker that did take the task, late, wins, whenever
 * its events arrive; so does a worker's own report of the expiry.
 */
export const isExpiryMark = (ev: TaskEnvelope): boolean => ev.kind === 'expired' && ev.fields.markedBy === Z4J_MARKER;

/**
 * A purge's mark: a RabbitMQ queue's purge counts the messages it removes and never names them,
 * so z4j marks the tasks it had waiting in that queue revoked (`inferred`), when they are no
 * more than the broker removed (actions/actionService.ts). As soft as an expiry mark: a worker
 * that had taken one of them wins. (A `revoked` z4j read from a result backend is a report.)
 */
export const isPurgeMark = (ev: TaskEnvelope): boolean => ev.kind === 'revoked' && ev.fields.markedBy === Z4J_MARKER && ev.fields.inferred === true;

/** An inference of z4j's, folded after every report (foldEvents). */
export const isMark = (ev: TaskEnvelope): boolean => isExpiryMark(ev) || isPurgeMark(ev);

/** Whether the task waits (in its queue, or received and not started) in `attempt`, past its expiry at `at`. */
const expiredWhileWaiting = (t: TaskRow, attempt: unknown, at: number): boolean =>
  t.attempt === attempt && (t.state === 'enqueued' || t.state === 'received') && t.expiresAt !== null && t.expiresAt <= at;

/** Whether the task waited in its queue in `attempt` when it was purged at `at` (no worker had taken it). */
const purgedWhileWaiting = (t: TaskRow, attempt: unknown, at: number): boolean =>
  t.attempt === attempt && t.state === 'enqueued' && t.stateAt <= at;

function applyMark(t: TaskRow, mark: TaskEnvelope): TaskRow {
  const holds = mark.kind === 'expired' ? expiredWhileWaiting : purgedWhileWaiting;
  if (holds(t, mark.fields.retries, mark.occurredAt)) {
    t.state = mark.kind;
    t.stateAt = t.finishedAt = mark.occurredAt;
  }
  // Not a sighting: first_seen_at (the explorer's order) stays when the task was first seen.
  t.lastEventAt = Math.max(t.lastEventAt, mark.occurredAt);
  return t;
}

export function emptyTask(ev: TaskEnvelope): TaskRow {
  return {
    engine: ev.engine, taskId: ev.taskId, state: ev.kind, attempt: 0, attemptAt: ev.occurredAt, stateAt: ev.occurredAt,
    name: null, queue: null, args: null, kwargs: null, result: null, exception: null, traceback: null,
    worker: null, retries: 0, retriedCount: 0, rootId: null, parentId: null, groupId: null, eta: null, expiresAt: null,
    sentAt: null, receivedAt: null, startedAt: null, finishedAt: null, runtimeMs: null, waitMs: null,
    firstSeenAt: ev.occurredAt, lastEventAt: ev.occurredAt,
  };
}

/** Returns the task after `ev`. Pure: `prev` is not modified. */
export function applyEvent(prev: TaskRow | null, ev: TaskEnvelope): TaskRow {
  return applyInPlace(prev ? { ...prev } : null, ev);
}

/**
 * The task after `ev`, made by changing `row` (which the caller owns). A fold copies its
 * starting row once, not once per event: copying a thirty-field row cost more than the rest.
 */
function applyInPlace(row: TaskRow | null, ev: TaskEnvelope): TaskRow {
  if (row && isMark(ev)) return applyMark(row, ev);
  const cur = relabel(row, ev);
  const t: TaskRow = cur ?? emptyTask(ev);
  const curAttempt = cur?.attempt; // `t` is `cur`: what it was before this event changes it
  const f = ev.fields;
  const attempt = attemptOf(ev, cur);
  const closedBefore = cur ? retriedSoFar(cur) : 0;
  if (ev.kind === 'retried') t.retriedCount = Math.max(closedBefore, attempt + 1);
  // An event naming a new attempt n: the reports closing attempts before n − 1 were sent long
  // before its message was (only n − 1's can be late), so any still missing were lost.
  else if (f.retries !== undefined && (!cur || attempt > cur.attempt)) t.retriedCount = Math.max(closedBefore, attempt - 1);
  // A rejection that requeued its message ends nothing: the message runs again (same attempt,
  // redelivered), and that run's events decide. It stays in the timeline only.
  const requeued = ev.kind === 'rejected' && f.requeue === true;
  const advances = !cur || (!requeued && isAfter(attempt, ev.kind, cur));
  const sameAttempt = attempt === t.attempt || advances;

  // Facts about the task itself hold whatever the order: fill them in.
  t.name = f.name ?? t.name;
  t.queue = f.queue ?? t.queue;
  if (f.args !== undefined && (advances || t.args === null)) t.args = f.args;
  if (f.kwargs !== undefined && (advances || t.kwargs === null)) t.kwargs = f.kwargs;
  t.rootId = f.rootId ?? t.rootId;
  t.parentId = f.parentId ?? t.parentId;
  t.groupId = f.groupId ?? t.groupId;
  t.eta = parseTime(f.eta) ?? t.eta;
  t.firstSeenAt = Math.min(t.firstSeenAt, ev.occurredAt);
  t.lastEventAt = Math.max(t.lastEventAt, ev.occurredAt);

  if (advances) {
    if (attempt > t.attempt) {
      // A new attempt: its timings start over (first_seen_at keeps the task's first sighting).
      t.sentAt = t.receivedAt = t.startedAt = t.finishedAt = t.runtimeMs = t.expiresAt = null;
      // Opened by an event after a retry: the attempt began no later than that retry ended.
      t.attemptAt = cur?.state === 'retried' && ev.fields.retries === undefined ? cur.stateAt : ev.occurredAt;
    }
    t.state = requeued ? 'enqueued' : ev.kind; // (only as a task's first event: back in its queue)
    t.attempt = attempt;
    t.stateAt = ev.occurredAt;
    t.retries = Math.max(t.retries, attempt);
  }

  // The last error stays visible while the next attempt runs.
  if (!sameAttempt && ev.kind === 'retried') {
    t.exception = f.exception ?? t.exception;
    t.traceback = f.traceback ?? t.traceback;
  }

  // Timings and outcome of the attempt the task is in; stale events only fill gaps.
  if (sameAttempt) {
    const at = ev.occurredAt;
    if (!advances || attempt === curAttempt) t.attemptAt = Math.min(t.attemptAt, at);
    const fill = (v: number | null) => (v === null || advances ? at : Math.min(v, at));
    if (f.expires) t.expiresAt = parseTime(f.expires) ?? t.expiresAt;
    switch (ev.kind) {
      case 'enqueued': t.sentAt = advances || t.sentAt === null ? at : t.sentAt; break;
      case 'received': t.receivedAt = fill(t.receivedAt); break;
      case 'started': t.startedAt = fill(t.startedAt); break;
      default: break;
    }
    // The worker running the attempt: a redelivered message's new worker too (its events do not
    // advance the state), not a late event's from before the state (another worker's clock).
    if (ev.worker && ev.kind !== 'enqueued' && (advances || t.worker === null || (RANK[t.state] < 5 && at >= t.stateAt))) t.worker = ev.worker;
    if (!requeued && (RANK[ev.kind] === 5 || ev.kind === 'retried')) {
      if (advances || t.finishedAt === null) t.finishedAt = ev.kind === 'retried' ? null : at;
      if (f.result !== undefined) t.result = f.result;
      if (f.exception !== undefined) t.exception = f.exception;
      if (f.traceback !== undefined) t.traceback = f.traceback;
      if (f.runtime !== undefined && ev.kind !== 'retried') t.runtimeMs = Math.round(f.runtime * 1e6) / 1e3; // seconds to ms, to the µs (0.542 s is not 541.9999…)
    }
  }

  if (t.runtimeMs === null && t.startedAt !== null && t.finishedAt !== null) t.runtimeMs = Math.max(0, t.finishedAt - t.startedAt);
  const queuedSince = t.sentAt ?? t.receivedAt;
  t.waitMs = t.startedAt !== null && queuedSince !== null ? Math.max(0, t.startedAt - queuedSince) : null;
  return t;
}

const byOccurrence = (a: TaskEnvelope, b: TaskEnvelope) => a.occurredAt - b.occurredAt || RANK[a.kind] - RANK[b.kind];

function inOrder(events: readonly TaskEnvelope[]): boolean {
  for (let i = 1; i < events.length; i++) if (byOccurrence(events[i - 1]!, events[i]!) > 0) return false;
  return true;
}

/**
 * Folds a list of events for one task in the order they occurred (ties: lifecycle order).
 * Marks (expiry, purge) come last, whenever they occurred: they hold only if no report says otherwise.
 */
export function foldEvents(cur: TaskRow | null, events: readonly TaskEnvelope[]): TaskRow {
  // Mostly they come in order already: then no copy and no sort (this runs for every task written).
  const sorted = inOrder(events) ? events : [...events].sort(byOccurrence);
  let t = cur ? { ...cur } : null;
  let marks: TaskEnvelope[] | null = null;
  for (const ev of sorted) {
    if (isMark(ev)) (marks ??= []).push(ev);
    else t = applyInPlace(t, ev);
  }
  if (marks) for (const mark of marks) t = applyInPlace(t, mark);
  return t!;
}

/**
 * Events older than what the task has already seen may belong to an attempt the row has
 * moved past, which the row alone cannot tell: such a task is folded again from its whole
 * timeline. In-order arrival, the common case, folds incrementally. So is an expired or revoked
 * task that hears more: its state may be a mark, which a report of the task's own undoes.
 */
export function needsRefold(cur: TaskRow | null, events: readonly TaskEnvelope[]): boolean {
  return cur !== null && (cur.state === 'expired' || cur.state === 'revoked' || events.some((e) => e.occurredAt < cur.lastEventAt));
}

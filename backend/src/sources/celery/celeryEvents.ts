// Celery's own events (celeryev) → envelopes. Celery events carry no id; ours is derived
// from what makes an event unique (host, pid, Lamport clock, type, task, time), so a
// redelivered or re-published event gets the same id and is stored once.
import { ENVELOPE_VERSION, type TaskKind, type WorkerKind } from '../../ingest/envelope.js';

/** The exception of a Celery task stopped at its hard or soft time limit. */
const TIME_LIMIT_EXCEEDED = /^(Soft)?TimeLimitExceeded\b/;
/**
 * What a task-failed says of an exception raised in the pool rather than in the task (the hard
 * time limit: billiard's wrapper's repr); its traceback's last line names the exception itself.
 */
const POOL_WRAPPER = 'ExceptionWithTraceback()';

const TASK_KINDS: Record<string, TaskKind> = {
  'task-sent': 'enqueued',
  'task-received': 'received',
  'task-started': 'started',
  'task-succeeded': 'succeeded',
  'task-failed': 'failed',
  'task-retried': 'retried',
  'task-revoked': 'revoked',
  'task-rejected': 'rejected',
};

const WORKER_KINDS: Record<string, WorkerKind> = {
  'worker-online': 'worker-online',
  'worker-heartbeat': 'worker-heartbeat',
  'worker-offline': 'worker-offline',
};

/** The reason given for an app's own event types, which are ignored (counted), not rejected. */
export const CUSTOM_EVENT = 'custom_event';

export type Mapped = { ok: true; candidate: Record<string, unknown> } | { ok: false; reason: string };

type CeleryEvent = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** A traceback's last line, the exception as Python printed it, without its module: `TimeLimitExceeded: TimeLimitExceeded(1,)`. */
function exceptionOfTraceback(traceback: string): string {
  const text = traceback.trimEnd();
  return text.slice(text.lastIndexOf('\n') + 1).replace(/^[\w.]*\./, '') || POOL_WRAPPER;
}

/** Short, stable tags for worker hostnames (few and long-lived), so ids stay short without hashing per event. */
const hostTags = new Map<string, string>();
function hostTag(hostname: string): string {
  let tag = hostTags.get(hostname);
  if (tag === undefined) {
    let h = 0x811c9dc5;
    for (let i = 0; i < hostname.length; i++) h = Math.imul(h ^ hostname.charCodeAt(i), 0x01000193);
    tag = (h >>> 0).toString(36);
    if (hostTags.size > 10_000) hostTags.clear(); // hostnames are few; this only bounds a pathological stream
    hostTags.set(hostname, tag);
  }
  return tag;
}

/**
 * A stable id for a Celery event (a redelivery gives the same id). Every event a worker
 * process sends carries its own Lamport clock value, so (time, host, pid, clock, type) is
 * unique without hashing the whole event; leading with the time makes the timeline's
 * unique index grow at its right edge instead of at random pages.
 */
// Events come in bursts that share a millisecond, and a number's base-36 text costs ≈ 0.35 µs.
let lastMs = Number.NaN;
let lastMsText = '';
function eventId(ev: CeleryEvent): string {
  const at = occurredAt(ev);
  if (at !== lastMs) {
    lastMs = at;
    lastMsText = at.toString(36);
  }
  const ms = lastMsText;
  const host = typeof ev.hostname === 'string' ? hostTag(ev.hostname) : '-';
  const uuid = typeof ev.uuid === 'string' ? ev.uuid.slice(0, 8) : '';
  return `c${ms}.${host}.${plain(ev.pid)}.${plain(ev.clock)}.${ev.type}.${uuid}`;
}

/** A number or string as text, anything else as nothing: an object's own toString must never run (or throw) here. */
const plain = (v: unknown): string => (typeof v === 'number' || typeof v === 'string' ? String(v) : '');

/** Celery timestamps are float seconds since the epoch. */
const occurredAt = (ev: CeleryEvent) => Math.round((num(ev.timestamp) ?? 0) * 1000);

/** Maps one decoded Celery event to an envelope candidate (validated later by the pipeline). */
export function mapCeleryEvent(ev: unknown, project: string): Mapped {
  if (typeof ev !== 'object' || ev === null || Array.isArray(ev)) return { ok: false, reason: 'not_object' };
  const e = ev as CeleryEvent;
  const type = str(e.type);
  if (!type) return { ok: false, reason: 'no_type' };
  const hostname = str(e.hostname);

  const workerKind = WORKER_KINDS[type];
  if (workerKind) {
    return {
      ok: true,
      candidate: {
        v: ENVELOPE_VERSION, type: 'worker', id: eventId(e), engine: 'celery', project, kind: workerKind,
        occurredAt: occurredAt(e), worker: hostname,
        fields: {
          freq: num(e.freq),
          active: num(e.active),
          processed: num(e.processed),
          loadavg: Array.isArray(e.loadavg) ? e.loadavg : undefined,
          pid: num(e.pid),
          software: str(e.sw_ident) && `${e.sw_ident} ${plain(e.sw_ver)}`.trim(),
        },
      },
    };
  }

  let kind = TASK_KINDS[type];
  // Celery lets apps send events of their own (`Task.send_event('task-progress', …)`): not bad
  // input, only not ours to store.
  if (!kind) return { ok: false, reason: /^(task|worker)-/.test(type) ? CUSTOM_EVENT : 'unknown_kind' };
  if (kind === 'revoked' && e.expired === true) kind = 'expired';
  // Only what the event has: no undefined keys to strip later (this runs for every event).
  const fields: Record<string, unknown> = {};
  const put = (key: string, value: unknown) => {
    if (value !== undefined && value !== null) fields[key] = value;
  };
  put('name', str(e.name));
  put('queue', str(e.queue));
  put('args', e.args);
  put('kwargs', e.kwargs);
  if (kind === 'succeeded') put('result', e.result);
  const traceback = str(e.traceback);
  const exception = e.exception === POOL_WRAPPER && traceback ? exceptionOfTraceback(traceback) : str(e.exception);
  put('exception', exception);
  put('traceback', traceback);
  // An attempt stopped at a time limit: the worker's TimeLimitExceeded (hard), or the task's
  // uncaught SoftTimeLimitExceeded (failed, or retried by autoretry). Marked as the agent marks the
  // other engines' (`timedOut`).
  if ((kind === 'failed' || kind === 'retried') && exception && TIME_LIMIT_EXCEEDED.test(exception)) fields.timedOut = true;
  put('retries', num(e.retries));
  put('rootId', str(e.root_id));
  // A retry's own task-sent names the task as its parent: not a link.
  if (e.parent_id !== e.uuid) put('parentId', str(e.parent_id));
  put('runtime', num(e.runtime));
  put('eta', str(e.eta));
  put('expires', str(e.expires));
  if (kind === 'enqueued') {
    // The producer of task-sent is not the worker: keep it as a field there.
    put('producer', hostname);
    put('routingKey', str(e.routing_key));
    put('exchange', str(e.exchange));
  }
  put('terminated', e.terminated);
  put('signum', e.signum);
  put('requeue', e.requeue);
  return {
    ok: true,
    candidate: {
      v: ENVELOPE_VERSION, type: 'task', id: eventId(e), engine: 'celery', project, kind,
      taskId: e.uuid, occurredAt: occurredAt(e),
      // task-sent comes from the producer: its hostname is not the worker's.
      worker: kind === 'enqueued' ? undefined : hostname,
      fields,
    },
  };
}

/** A celeryev message body: one event, or a list of them (`task.multi`). */
export function eventsOfBody(body: unknown): unknown[] {
  return Array.isArray(body) ? body : [body];
}

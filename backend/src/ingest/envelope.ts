// The versioned event envelope every source produces, and its validation. Validation is
// strict about identity (engine, kind, ids, time) and forgiving about payload: oversized or
// deeply nested payload is cut and marked rather than losing the whole event.
export const ENGINES = ['celery', 'rq', 'dramatiq', 'huey', 'arq', 'taskiq'] as const;
export type Engine = (typeof ENGINES)[number];

export const TASK_KINDS = [
  'enqueued', 'received', 'started', 'succeeded', 'failed', 'retried', 'revoked', 'rejected', 'expired',
] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

export const WORKER_KINDS = ['worker-online', 'worker-heartbeat', 'worker-offline'] as const;
export type WorkerKind = (typeof WORKER_KINDS)[number];

export const ENVELOPE_VERSION = 1 as const;

/** Known task fields, all optional; anything else is kept, cut to size, in the event's fields. */
export interface TaskFields {
  name?: string;
  queue?: string;
  args?: unknown;
  kwargs?: unknown;
  result?: unknown;
  exception?: string;
  traceback?: string;
  retries?: number;
  rootId?: string | null;
  parentId?: string | null;
  groupId?: string | null;
  runtime?: number;
  eta?: string | null;
  expires?: string | null;
  producer?: string;
  /** A rejection that put the message back in its queue (Celery's Reject(requeue=True), a lost worker): it runs again. */
  requeue?: boolean;
  [key: string]: unknown;
}

export interface WorkerFields {
  freq?: number;
  active?: number;
  processed?: number;
  loadavg?: number[];
  pid?: number;
  software?: string;
  /** Agents: pool size / threads / max jobs, and events their bounded buffer dropped so far. */
  concurrency?: number;
  dropped?: number;
  /** Agents: events sent without their retry payload (too big, or not exact in JSON) so far. */
  payloadsDropped?: number;
  [key: string]: unknown;
}

interface EnvelopeBase {
  v: typeof ENVELOPE_VERSION;
  id: string;
  engine: Engine;
  project: string;
  /** Milliseconds since the epoch. */
  occurredAt: number;
}
export interface TaskEnvelope extends EnvelopeBase {
  type: 'task';
  kind: TaskKind;
  taskId: string;
  worker?: string;
  fields: TaskFields;
  /**
   * The task's retry payload, sealed (DESIGN principle 5), stored with the event in the same
   * transaction. Set by the service after validation (agent ingest), never taken from input:
   * validation builds a new envelope from the known keys only.
   */
  sealedPayload?: Buffer;
}
export interface WorkerEnvelope extends EnvelopeBase {
  type: 'worker';
  kind: WorkerKind;
  worker: string;
  fields: WorkerFields;
}
export type Envelope = TaskEnvelope | WorkerEnvelope;

export type Validated = { ok: true; envelope: Envelope } | { ok: false; reason: string };

// Every event of every source passes here (tens of thousands a second), so the checks are
// plain functions over the input rather than a schema library's parse: that copied every
// event and its fields (≈ 2.2 µs per event plus the garbage, BENCHMARKS.md). envelope.test.ts
// holds the contract's hostile cases.
type Check = (v: unknown) => boolean;
const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
// Ids and worker names are stored as they come (fields are scrubbed later): a NUL, which
// PostgreSQL cannot store, must stop here, not fail the database write of its whole batch.
const noNul = (v: string) => !v.includes('\u0000');
const id: Check = (v) => isString(v) && v.length >= 1 && v.length <= 255 && noNul(v);
const workerName: Check = (v) => isString(v) && v.length <= 1024 && noNul(v);
const text: Check = (v) => isString(v) && v.length <= 1024;
const shortText: Check = (v) => isString(v) && v.length <= 64;
const any: Check = () => true;
const count: Check = (v) => isInt(v) && v >= 0;
const optional = (check: Check): Check => (v) => v === undefined || check(v);
const nullish = (check: Check): Check => (v) => v === undefined || v === null || check(v);
const optionalText = optional(text);

const TASK_FIELD_CHECKS: Record<string, Check> = {
  name: optionalText,
  queue: optionalText,
  args: any,
  kwargs: any,
  result: any,
  exception: optional(isString),
  traceback: optional(isString),
  retries: optional((v) => isInt(v) && v >= 0 && v <= 1_000_000),
  rootId: nullish(id),
  parentId: nullish(id),
  groupId: nullish(id),
  runtime: optional((v) => isNumber(v) && v >= 0 && v <= 1e9),
  eta: nullish(shortText),
  expires: nullish(shortText),
  producer: optionalText,
};

const WORKER_FIELD_CHECKS: Record<string, Check> = {
  freq: optional((v) => isNumber(v) && v >= 0 && v <= 86400),
  active: optional(count),
  processed: optional(count),
  loadavg: optional((v) => Array.isArray(v) && v.length <= 3 && v.every(isNumber)),
  pid: optional(count),
  software: optionalText,
  concurrency: optional(count),
  dropped: optional(count),
  payloadsDropped: optional(count),
};

const ENGINE_SET: ReadonlySet<unknown> = new Set(ENGINES);
const TASK_KIND_SET: ReadonlySet<unknown> = new Set(TASK_KINDS);
const WORKER_KIND_SET: ReadonlySet<unknown> = new Set(WORKER_KINDS);
const PROJECT_SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** Sane bounds reject garbage clocks (year 2000 … 2200). */
const MIN_TIME = 946_684_800_000;
const MAX_TIME = 7_258_118_400_000;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const refuse = (reason: string): Validated => ({ ok: false, reason });

/** The first known field that breaks its rule, or null. Unknown fields are the scrubber's. */
function badField(fields: Record<string, unknown>, checks: Record<string, Check>): string | null {
  for (const key in checks) {
    if (!checks[key]!(fields[key])) return key;
  }
  return null;
}

/**
 * Stores an event whose time is more than `toleranceMs` past its receipt at its receipt: the
 * event cannot have happened after it arrived, so its sender's clock is ahead (or its time made
 * up). Kept as it was, it would set its task's last event far ahead, and every later event of the
 * task would then look late and refold it from its whole timeline, folded in the wrong order. How
 * far ahead it was stays in the event's fields (`clockSkewMs`). Returns that, or 0 when the time
 * is kept.
 */
export function clampToReceipt(envelope: Envelope, receivedAt: number, toleranceMs: number): number {
  const ahead = envelope.occurredAt - receivedAt;
  if (!(ahead > toleranceMs)) return 0;
  envelope.occurredAt = receivedAt;
  envelope.fields.clockSkewMs = Math.round(ahead);
  return ahead;
}

/**
 * Validates untrusted input into an envelope. Never throws. The reason is short and
 * stable (it becomes a metric label): `not_object`, `unknown_kind`, `bad_<field>`,
 * `bad_fields_<field>`. The envelope is new; its fields object is the input's own.
 */
export function validateEnvelope(input: unknown): Validated {
  if (!isRecord(input)) return refuse('not_object');
  const { type, kind } = input;
  if (type !== 'task' && type !== 'worker') return refuse('bad_type');
  if (input.v !== ENVELOPE_VERSION) return refuse('bad_v');
  if (!id(input.id)) return refuse('bad_id');
  if (!ENGINE_SET.has(input.engine)) return refuse('bad_engine');
  if (!isString(input.project) || !PROJECT_SLUG.test(input.project)) return refuse('bad_project');
  const at = input.occurredAt;
  if (!isNumber(at) || at < MIN_TIME || at > MAX_TIME) return refuse('bad_occurredAt');
  if (!(type === 'task' ? TASK_KIND_SET : WORKER_KIND_SET).has(kind)) return refuse('unknown_kind');
  const eventId = input.id as string;
  const engine = input.engine as Engine;
  const project = input.project;
  const fields = input.fields;
  if (type === 'task') {
    if (!id(input.taskId)) return refuse('bad_taskId');
    if (!optional(workerName)(input.worker)) return refuse('bad_worker');
    if (!isRecord(fields)) return refuse('bad_fields');
    const bad = badField(fields, TASK_FIELD_CHECKS);
    if (bad) return refuse(`bad_fields_${bad}`);
    // Plain literals, not spreads: a spread costs more than the rest of this check.
    const envelope: TaskEnvelope = { v: ENVELOPE_VERSION, type, id: eventId, engine, project, kind: kind as TaskKind, taskId: input.taskId as string, occurredAt: at, worker: input.worker as string | undefined, fields: fields as TaskFields };
    return { ok: true, envelope };
  }
  if (!workerName(input.worker) || (input.worker as string).length === 0) return refuse('bad_worker');
  if (!isRecord(fields)) return refuse('bad_fields');
  const bad = badField(fields, WORKER_FIELD_CHECKS);
  if (bad) return refuse(`bad_fields_${bad}`);
  return { ok: true, envelope: { v: ENVELOPE_VERSION, type, id: eventId, engine, project, kind: kind as WorkerKind, occurredAt: at, worker: input.worker as string, fields: fields as WorkerFields } };
}

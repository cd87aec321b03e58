// The versioned event envelope every source produces, and its validation. Validation is
// strict about identity (engine, kind, ids, time) and forgiving about payload: oversized or
// deeply nested payload is cut and marked rather than losing the whole event.
import { z } from 'zod';

export const ENGINES = ['celery', 'rq', 'dramatiq', 'huey', 'arq', 'taskiq'] as const;
export type Engine = (typeof ENGINES)[number];

export const TASK_KINDS = [
  'enqueued', 'received', 'started', 'succeeded', 'failed', 'retried', 'revoked', 'rejected', 'expired',
] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

export const WORKER_KINDS = ['worker-online', 'worker-heartbeat', 'worker-offline'] as const;
export type WorkerKind = (typeof WORKER_KINDS)[number];

export const ENVELOPE_VERSION = 1;

const id = z.string().min(1).max(255);
const text = z.string().max(1024);
const jsonValue = z.unknown();

/** Known fields, all optional; anything else is kept, cut to size, in the event's fields. */
export const taskFieldsSchema = z.looseObject({
  name: text.optional(),
  queue: text.optional(),
  args: jsonValue.optional(),
  kwargs: jsonValue.optional(),
  result: jsonValue.optional(),
  exception: z.string().optional(),
  traceback: z.string().optional(),
  retries: z.number().int().min(0).max(1_000_000).optional(),
  rootId: id.nullish(),
  parentId: id.nullish(),
  groupId: id.nullish(),
  runtime: z.number().min(0).max(1e9).optional(),
  eta: z.string().max(64).nullish(),
  expires: z.string().max(64).nullish(),
  producer: text.optional(),
});

export const workerFieldsSchema = z.looseObject({
  freq: z.number().min(0).max(86400).optional(),
  active: z.number().int().min(0).optional(),
  processed: z.number().int().min(0).optional(),
  loadavg: z.array(z.number()).max(3).optional(),
  pid: z.number().int().min(0).optional(),
  software: text.optional(),
  /** Agents: pool size / threads / max jobs, and events their bounded buffer dropped so far. */
  concurrency: z.number().int().min(0).optional(),
  dropped: z.number().int().min(0).optional(),
});

const base = {
  v: z.literal(ENVELOPE_VERSION),
  id,
  engine: z.enum(ENGINES),
  project: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
  /** Milliseconds since the epoch; sane bounds reject garbage clocks (year 2000 … 2200). */
  occurredAt: z.number().finite().min(946_684_800_000).max(7_258_118_400_000),
};

export const envelopeSchema = z.discriminatedUnion('type', [
  z.object({ ...base, type: z.literal('task'), kind: z.enum(TASK_KINDS), taskId: id, worker: text.optional(), fields: taskFieldsSchema }),
  z.object({ ...base, type: z.literal('worker'), kind: z.enum(WORKER_KINDS), worker: text.min(1), fields: workerFieldsSchema }),
]);

export type Envelope = z.infer<typeof envelopeSchema>;
export type TaskEnvelope = Extract<Envelope, { type: 'task' }>;
export type WorkerEnvelope = Extract<Envelope, { type: 'worker' }>;
export type TaskFields = TaskEnvelope['fields'];

export type Validated = { ok: true; envelope: Envelope } | { ok: false; reason: string };

/**
 * Validates untrusted input into an envelope. Never throws. The reason is short and
 * stable (it becomes a metric label): `not_object`, `unknown_kind`, `bad_<field>`.
 */
export function validateEnvelope(input: unknown): Validated {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { ok: false, reason: 'not_object' };
  const parsed = envelopeSchema.safeParse(input);
  if (parsed.success) return { ok: true, envelope: parsed.data };
  const issue = parsed.error.issues[0]!;
  const path = issue.path.filter((p) => typeof p === 'string');
  if (path[0] === 'kind' || (issue.code === 'invalid_union' && path.length === 0)) return { ok: false, reason: 'unknown_kind' };
  return { ok: false, reason: `bad_${path.slice(0, 2).join('_') || 'envelope'}` };
}

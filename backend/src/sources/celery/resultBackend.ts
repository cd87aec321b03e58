// A Celery task's outcome read from the app's result backend, for the tasks whose worker events
// never reached z4j. Celery's events are Redis pub/sub (or transient AMQP messages): what a worker
// publishes while the service restarts, while its subscriber reconnects after a failover, or
// while it sheds load, is gone, and the task stays "enqueued" (or "started") in z4j for good,
// though it ran. When the app keeps results in Redis (`result_backend = "redis://…"`), the
// backend still holds the outcome under `celery-task-meta-<task id>`, as JSON:
//
//   {"status": "SUCCESS", "result": …, "traceback": null, "children": [], "date_done": "…", "task_id": "…"}
//
// (read from real 5.3 and 5.7 workers; date_done is ISO 8601 in UTC, with `+00:00` on 5.7, without
// an offset on 5.3). Failures and revocations keep the exception as {"exc_type", "exc_message":
// [args…], "exc_module"}.
//
// The sweep looks up the Celery tasks that have waited or run without a word for longer than a
// grace, page by page (keyset, bounded per round), and reports what it finds as the task's event:
// a `succeeded`, `failed` or `revoked` at the backend's date_done, with `markedBy: "z4j"` and the
// reason, through the ingest pipeline like every event (validated, scrubbed: a result is
// redacted as a worker's would be). The event's id is derived from the task and the outcome, so
// a second look, or a second replica, adds nothing. STARTED and RETRY are not outcomes (the first
// carries no time, the second is followed by another attempt): left to the worker's own events.
import type { Redis } from 'ioredis';
import { cursorTimeSql } from '../../api/keyset.js';
import type { Db } from '../../db/db.js';
import type { TaskEnvelope } from '../../ingest/envelope.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics.js';
import { newRedis } from '../../redis.js';
import { brokerUrlQuery } from '../../redisSentinel.js';
import { Z4J_MARKER } from '../../ingest/taskState.js';

/** Celery's key for a task's result (RedisBackend: `task_keyprefix` + id). */
export const RESULT_KEY_PREFIX = 'celery-task-meta-';

export const RESULT_REASON = "read from Celery's result backend: the worker's events for it never reached z4j";

type Outcome = 'succeeded' | 'failed' | 'revoked';
const OUTCOMES = new Map<unknown, Outcome>([['SUCCESS', 'succeeded'], ['FAILURE', 'failed'], ['REVOKED', 'revoked']]);

/** What the backend says of a finished task; null for anything else (absent, unfinished, unreadable). */
export interface BackendOutcome {
  kind: Outcome;
  at: number;
  result?: unknown;
  exception?: string;
  traceback?: string;
  timedOut?: boolean;
}

const TIME_LIMIT = /^(Soft)?TimeLimitExceeded$/;

/** Reads one `celery-task-meta-*` value (JSON; another serializer's bytes are not read: null). */
export function parseCeleryResult(raw: string | null): BackendOutcome | null {
  if (!raw) return null;
  let meta: unknown;
  try {
    meta = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof meta !== 'object' || meta === null) return null;
  const { status, result, traceback, date_done: done } = meta as Record<string, unknown>;
  const kind = OUTCOMES.get(status);
  const at = typeof done === 'string' ? parseUtc(done) : null;
  if (!kind || at === null) return null;
  if (kind === 'succeeded') return { kind, at, result };
  const out: BackendOutcome = { kind, at };
  const exc = exceptionOf(result);
  if (exc) {
    out.exception = exc.text;
    if (kind === 'failed' && TIME_LIMIT.test(exc.type)) out.timedOut = true;
  }
  if (typeof traceback === 'string' && traceback) out.traceback = traceback;
  return out;
}

/** date_done as Celery wrote it: with an offset (5.7), or naive UTC (5.3). */
function parseUtc(text: string): number | null {
  const t = Date.parse(/(Z|[+-]\d\d:?\d\d)$/.test(text) ? text : `${text}Z`);
  return Number.isFinite(t) ? t : null;
}

/** `ValueError: bad thing` from Celery's exception dict (exc_message: the exception's args). */
function exceptionOf(result: unknown): { type: string; text: string } | null {
  if (typeof result !== 'object' || result === null) return null;
  const { exc_type: type, exc_message: message } = result as Record<string, unknown>;
  if (typeof type !== 'string' || !type) return null;
  const args = Array.isArray(message) ? message : message === undefined || message === null ? [] : [message];
  const detail = args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(', ');
  return { type, text: detail ? `${type}: ${detail}` : type };
}

/** A Celery task z4j has not heard the end of. */
export interface OpenTask {
  ref: string;
  taskId: string;
  name: string | null;
  attempt: number;
  project: string;
}

/** The event that reports what the backend says of `task`. */
export function outcomeEvent(task: OpenTask, outcome: BackendOutcome): TaskEnvelope {
  const fields: TaskEnvelope['fields'] = { retries: task.attempt, markedBy: Z4J_MARKER, reason: RESULT_REASON };
  if (task.name) fields.name = task.name;
  if ('result' in outcome) fields.result = outcome.result;
  if (outcome.exception) fields.exception = outcome.exception;
  if (outcome.traceback) fields.traceback = outcome.traceback;
  if (outcome.timedOut) fields.timedOut = true;
  return {
    v: 1, type: 'task', id: `z4j-result.${task.ref}.${task.attempt}.${outcome.kind}`, engine: 'celery', project: task.project,
    kind: outcome.kind, taskId: task.taskId, occurredAt: outcome.at, fields,
  };
}

/**
 * Where a backend URL's results are: the URL for the Redis client, and the prefix of the task
 * keys. An app whose `result_backend_transport_options` set a `global_keyprefix` gives it on the
 * URL, `?global_keyprefix=app1:`; Celery (BaseKeyValueStoreBackend._add_global_keyprefix, 5.3 and
 * 5.7) puts it before `celery-task-meta-`, with a `_` between unless it ends in `:`, `_`, `-` or `.`.
 */
export function backendLocation(url: string): { clientUrl: string; taskKeyPrefix: string } {
  const parts = brokerUrlQuery(url);
  const prefix = parts?.query.get('global_keyprefix');
  if (!parts || prefix === null || prefix === undefined) return { clientUrl: url, taskKeyPrefix: RESULT_KEY_PREFIX };
  parts.query.delete('global_keyprefix');
  const joiner = !prefix || ':_-.'.includes(prefix.at(-1)!) ? '' : '_';
  return { clientUrl: parts.rebuild(), taskKeyPrefix: `${prefix}${joiner}${RESULT_KEY_PREFIX}` };
}

/** A result past this size is not read (a task that returned megabytes): its task is left to its worker's events. */
export const MAX_RESULT_BYTES = 1024 * 1024;
/** Results read in one MGET at most, in bytes: a page of large results is read in several. */
const MGET_BYTES = 8 * 1024 * 1024;

/**
 * The stored results of `taskIds` in one backend, as text: their sizes first (STRLEN, one round
 * trip), then those within MAX_RESULT_BYTES by MGETs of at most MGET_BYTES, so that a page of
 * large results never has to be held at once. Absent ones are left out.
 */
export async function readResults(client: Redis, taskIds: string[], log: Logger, keyPrefix = RESULT_KEY_PREFIX): Promise<[string, string][]> {
  const sizes = (await client.pipeline(taskIds.map((id) => ['strlen', keyPrefix + id])).exec()) ?? [];
  const chunks: string[][] = [[]];
  let chunkBytes = 0;
  let tooBig = 0;
  taskIds.forEach((id, i) => {
    const [err, size] = sizes[i] ?? [null, 0];
    if (err) throw err;
    const bytes = Number(size);
    if (!bytes) return;
    if (bytes > MAX_RESULT_BYTES) {
      tooBig++;
      return;
    }
    if (chunkBytes + bytes > MGET_BYTES && chunks[chunks.length - 1]!.length) {
      chunks.push([]);
      chunkBytes = 0;
    }
    chunks[chunks.length - 1]!.push(id);
    chunkBytes += bytes;
  });
  if (tooBig) log.warn({ tasks: tooBig, maxBytes: MAX_RESULT_BYTES }, 'celery result backend: results too large to read; those tasks are left to their workers\' events');
  const out: [string, string][] = [];
  for (const chunk of chunks) {
    if (!chunk.length) continue;
    const values = await client.mget(...chunk.map((id) => keyPrefix + id));
    chunk.forEach((id, i) => {
      const raw = values[i];
      if (raw) out.push([id, raw]);
    });
  }
  return out;
}

// The open Celery tasks of one project and state, newest first from a cursor, by the explorer's
// index tasks_by_state (project_id, state, first_seen_at DESC, id DESC). Rows of other engines
// in the state are read past: open tasks are few beside the finished ones.
const OPEN_SQL = `
SELECT t.id::text AS ref, t.task_id AS "taskId", t.name, t.attempt, ${cursorTimeSql('t.first_seen_at')} AS seen
  FROM tasks t
 WHERE t.project_id = $1 AND t.state = $2 AND t.engine = 'celery'
   AND t.last_event_at < to_timestamp($3::float8 / 1000.0)
   AND (t.first_seen_at, t.id) < ($4::timestamptz, $5::bigint)
 ORDER BY t.first_seen_at DESC, t.id DESC
 LIMIT $6`;

const OPEN_STATES = ['enqueued', 'received', 'started'] as const;
const START = { seen: 'infinity', id: '9223372036854775807' }; // past every row

/** A backend's connection for one round, and where its task results are. */
interface Backend {
  client: Redis;
  keyPrefix: string;
}

export interface ResultSweepOptions {
  /** How long a task is left without news before its backend is read. */
  graceMs: number;
  /** Tasks looked up per project and state in one round. */
  pageSize?: number;
  now?: () => number;
}

/**
 * Reads the outcomes of open Celery tasks from the result backends and offers them as events.
 * Each round looks at one page per project and state, and goes on from there the next round,
 * wrapping around: a backlog of waiting tasks costs each round the same, and every open task is
 * looked at again in its turn. A backend that cannot be read is skipped, and logged.
 */
export class CeleryResultSweep {
  private readonly cursors = new Map<string, { seen: string; id: string }>();
  private running: Promise<number> | null = null;
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly backendUrls: readonly string[],
    private readonly offer: (source: string, event: TaskEnvelope) => Promise<void>,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly opts: ResultSweepOptions,
  ) {}

  /** One round; returns how many outcomes it found. */
  runOnce(): Promise<number> {
    if (this.stopped) return Promise.resolve(0);
    const round = this.round().finally(() => {
      if (this.running === round) this.running = null;
    });
    this.running = round;
    return round;
  }

  private async round(): Promise<number> {
    const now = (this.opts.now ?? Date.now)();
    const projects = (await this.db.query<{ id: number; slug: string }>('SELECT id, slug FROM projects ORDER BY id')).rows;
    // Connections of this round only: one try each, no reconnecting in the background between
    // rounds (a backend that is down is tried again the next round).
    const backends = await Promise.all(this.backendUrls.map((url) => this.connect(url)));
    let found = 0;
    try {
      for (const project of projects) {
        for (const state of OPEN_STATES) {
          if (this.stopped) return found; // the pipeline is stopping: nothing more to offer it
          found += await this.page(project, state, now - this.opts.graceMs, backends);
        }
      }
    } finally {
      for (const b of backends) b?.client.disconnect();
    }
    if (found) this.log.info({ tasks: found }, "celery tasks settled from the result backend: their workers' events never arrived");
    return found;
  }

  private async connect(url: string): Promise<Backend | null> {
    const { clientUrl, taskKeyPrefix } = backendLocation(url);
    const client = newRedis(clientUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 5000 });
    client.on('error', () => undefined); // the failed connect below says it
    try {
      await client.connect();
      return { client, keyPrefix: taskKeyPrefix };
    } catch (err) {
      client.disconnect();
      this.log.warn({ err: String(err) }, 'celery result backend: cannot connect; trying again next round');
      return null;
    }
  }

  private async page(project: { id: number; slug: string }, state: string, before: number, backends: (Backend | null)[]): Promise<number> {
    const key = `${project.id}:${state}`;
    const from = this.cursors.get(key) ?? START;
    const limit = this.opts.pageSize ?? 500;
    const rows = (await this.db.query<OpenTask & { seen: string }>(OPEN_SQL, [project.id, state, before, from.seen, from.id, limit], { name: 'z4j_celery_open' })).rows;
    const last = rows[rows.length - 1];
    if (rows.length < limit || !last) this.cursors.delete(key); // the end: from the newest again next round
    else this.cursors.set(key, { seen: last.seen, id: last.ref });
    if (!rows.length) return 0;
    const outcomes = await this.lookUp(rows.map((r) => r.taskId), backends);
    let found = 0;
    for (const row of rows) {
      const outcome = outcomes.get(row.taskId);
      if (!outcome) continue;
      await this.offer('celery-results', outcomeEvent({ ...row, project: project.slug }, outcome));
      this.metrics.tasksSettledFromResults.inc({ outcome: outcome.kind });
      found++;
    }
    return found;
  }

  /** The finished ones among `taskIds`, from every backend that answers. */
  private async lookUp(taskIds: string[], backends: (Backend | null)[]): Promise<Map<string, BackendOutcome>> {
    const found = new Map<string, BackendOutcome>();
    for (const backend of backends) {
      if (!backend) continue;
      const ids = taskIds.filter((id) => !found.has(id));
      if (!ids.length) break;
      try {
        for (const [id, raw] of await readResults(backend.client, ids, this.log, backend.keyPrefix)) {
          const outcome = parseCeleryResult(raw);
          if (outcome) found.set(id, outcome);
        }
      } catch (err) {
        this.log.warn({ err: String(err) }, 'celery result backend: could not read task results; trying again next round');
      }
    }
    return found;
  }

  /** Lets a round under way finish its page (before the pipeline stops). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running?.catch(() => undefined);
  }
}

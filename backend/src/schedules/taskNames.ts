// Which task names a schedule may send. Most engines run only the tasks their workers registered
// (Celery, Dramatiq, taskiq, and Huey and arq through the agent), so an unknown name fails on the
// worker. RQ is different: a job names any importable callable and its worker imports and calls
// it. A schedule of RQ's "os.system" or "eval" would run whatever its args say on every RQ worker
// behind the broker, other projects' included. So an RQ schedule may only send a task this
// project has already seen run on RQ: the functions the application itself enqueues.
import type { Queryable } from '../db/db.js';
import type { Engine } from '../ingest/envelope.js';
import { ApiError } from '../api/errors.js';

/** Engines whose workers call whatever callable a message names. */
const RUNS_ANY_CALLABLE: ReadonlySet<Engine> = new Set(['rq']);

/** Why this project's schedule may not send `taskName` on `engine`, or null when it may. */
export async function taskNameRefusal(q: Queryable, projectId: number, engine: Engine, taskName: string): Promise<string | null> {
  if (!RUNS_ANY_CALLABLE.has(engine)) return null;
  const known = !taskName.includes('.')
    ? false // a builtin (eval, exec, print…): never one of an application's own jobs
    : (await q.query('SELECT 1 FROM tasks WHERE project_id = $1 AND name = $2 AND engine = $3 LIMIT 1', [projectId, taskName, engine])).rows.length > 0;
  return known
    ? null
    : `${engine} workers run any function a job names, so a schedule may only send a task this project has already seen on ${engine} (enqueued by the application, with its module path, e.g. "billing.jobs.close_day"); ${JSON.stringify(taskName)} is not one`;
}

/** taskNameRefusal as a 400 UNKNOWN_TASK. */
export async function requireKnownTaskName(q: Queryable, projectId: number, engine: Engine, taskName: string): Promise<void> {
  const refusal = await taskNameRefusal(q, projectId, engine, taskName);
  if (refusal) throw new ApiError(400, 'UNKNOWN_TASK', refusal);
}

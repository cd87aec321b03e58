// arq through its Redis layout (arq 0.28): a queue is a sorted set of job ids scored by when
// they may run (`arq:queue` by default), each job's pickled call under `arq:job:<id>`, and
// aborts requested through the sorted set `arq:abort` — exactly what arq's own Job.abort()
// does. Workers honour aborts only with `allow_abort_jobs = True`. Jobs are pickled, so a retry
// is the agent's job: `enqueue_job` inside a live worker of the queue, with the exact call.
// A filtered purge reads the function name from the job's pickle without unpickling it (or
// from a job written with msgpack, JSON or CBOR).
import { RedisEngineDriver } from '../redisDriver.js';
import { countMatching, GONE, purgedIds, purgeMatching, type MatchCount, type MessageSet, type PurgeFilter } from '../filteredPurge.js';
import { pickleStrings } from '../pickleStrings.js';
import { readSerializedMap } from '../serializedMap.js';
import { needAgent, NoPayload, type AgentChannel, type Dispatch, type EngineDriver, type Purged, type RetryPayload, type TaskRef } from '../driver.js';

const DEFAULT_QUEUE = 'arq:queue';
const JOB = 'arq:job:';
const IN_PROGRESS = 'arq:in-progress:';

/**
 * The function name of an arq job: `pickle.dumps({'t': job_try, 'f': function, 'a': args, ...})`
 * (arq's serialize_job), read from the pickle's opcodes; or the same dict written by the
 * job_serializer a worker was given instead (msgpack, as arq's docs show, JSON or CBOR). Null
 * for any other shape (a serializer z4j cannot read): such a job never matches a filter.
 */
export function arqFunctionName(raw: Buffer): string | null {
  if (raw[0] === 0x80) {
    const [t, f, name] = pickleStrings(raw, 3);
    return t === 't' && f === 'f' ? name ?? null : null;
  }
  const f = readSerializedMap(raw)?.f;
  return typeof f === 'string' ? f : null;
}

/** Job.abort(): a deferred job is brought forward (the worker then sees the abort at once), then flagged. */
const ABORT = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) > tonumber(ARGV[2]) then redis.call('ZADD', KEYS[1], 1, ARGV[1]) end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return score and 1 or 0`;

/** A waiting job (bound to `member`) is taken when a worker set its in-progress key: it then runs. */
const TAKEN = `redis.call('EXISTS', '${IN_PROGRESS}' .. member) == 1`;

/**
 * Deletes a waiting job's data. Its in-progress key is written and deleted too: a worker picking
 * the job up at that moment WATCHes that key, so its MULTI fails and it skips the job instead of
 * starting one whose data is gone.
 */
const DELETE_JOB = `redis.call('SET', '${IN_PROGRESS}' .. member, 'z4j-purge', 'PX', 1000)
    redis.call('DEL', '${IN_PROGRESS}' .. member, '${JOB}' .. member, 'arq:retry:' .. member)`;

/**
 * Empties a queue of its waiting jobs (their ids and data); returns how many. A job in progress
 * stays, in the queue too: arq runs it again from there after a Retry, a cancel or a dead
 * worker, and a worker skips a job no longer in its queue.
 */
const PURGE = `
local removed = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if not (${TAKEN}) then
    ${DELETE_JOB}
    redis.call('ZREM', KEYS[1], member)
    removed[#removed + 1] = member
  end
end
return removed`;

export class ArqDriver extends RedisEngineDriver implements EngineDriver {
  readonly engine = 'arq' as const;
  readonly capabilities = {
    'task.retry': { via: 'agent', note: 'a new job with the exact args / kwargs the agent captured, enqueued by the agent in a live worker of the queue' },
    'task.cancel': { via: 'broker', note: 'arq abort of a queued or deferred job; workers need allow_abort_jobs = True' },
    'task.terminate': { via: 'broker', note: 'arq abort: the running coroutine is cancelled; workers need allow_abort_jobs = True' },
    'queue.purge': { via: 'broker' },
    'queue.purge_filtered': { via: 'broker', note: "by function name, read from the job's pickle without unpickling it, or from a job_serializer's msgpack, JSON or CBOR; jobs of another serializer are kept (the preview counts them), and jobs a worker already took run" },
  } as const;

  constructor(url: string) {
    super(url, 'z4j-arq-driver');
  }

  async retry(payload: RetryPayload | null, newTaskId: string, original: TaskRef | null, agent?: AgentChannel): Promise<Dispatch> {
    if (!payload) throw new NoPayload();
    const queue = payload.queue ?? original?.queue ?? DEFAULT_QUEUE;
    const args = { taskId: newTaskId, name: payload.name, args: payload.args, kwargs: payload.kwargs, queue, retryOf: original?.taskId ?? null };
    const { worker } = await needAgent(agent, this.engine).send('retry', args, { queue });
    return { awaitsAgent: true, detail: { newTaskId, queue, worker } };
  }

  /** Whether the job's id was in its queue (arq keeps a running job's there until it ends). */
  private async abort(task: TaskRef): Promise<boolean> {
    return (await this.redis.eval(ABORT, 2, task.queue ?? DEFAULT_QUEUE, 'arq:abort', task.taskId, String(Date.now()))) === 1;
  }

  async cancel(task: TaskRef): Promise<Dispatch> {
    return { detail: { stillQueued: await this.abort(task) } };
  }

  /** No detail: "still queued" would read as "not started" for a running job, whose id arq keeps in its queue. */
  async terminate(task: TaskRef): Promise<Dispatch> {
    await this.abort(task);
    return {};
  }

  async purgeQueue(queue: string): Promise<Purged> {
    return purgedIds((await this.redis.eval(PURGE, 1, queue)) as string[]);
  }

  /** The queue's job ids, read by their job's function name; a job a worker holds is left to run. */
  private waiting(queue: string): MessageSet {
    return {
      key: queue,
      kind: 'sorted set',
      read: async (ids) => (await this.redis.mgetBuffer(...ids.map((id) => JOB + id.toString('utf8')))).map((raw, i) => (raw === null ? GONE : { name: arqFunctionName(raw), taskId: ids[i]!.toString('utf8') })),
      taken: TAKEN,
      cleanup: DELETE_JOB,
    };
  }

  async countMatching(queue: string, filter: PurgeFilter): Promise<MatchCount> {
    return countMatching(this.redis, [this.waiting(queue)], filter);
  }

  async purgeMatching(queue: string, filter: PurgeFilter): Promise<Purged> {
    return purgeMatching(this.redis, [this.waiting(queue)], filter);
  }

  async queueDepth(queue: string): Promise<number | null> {
    return this.redis.zcard(queue);
  }
}

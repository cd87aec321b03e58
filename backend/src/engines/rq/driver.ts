// RQ, acted on through its Redis layout (RQ 2.1 to 3.0): jobs are hashes `rq:job:<id>`, queues are
// lists `rq:queue:<name>` of job ids, registries are sorted sets, and workers take commands
// on `rq:pubsub:<worker name>`. Multi-key changes run as Lua scripts, so a worker popping
// the same job at the same moment sees either the old state or the new one, never half.
import { deflateSync, inflateSync } from 'node:zlib';
import { countMatching, GONE, purgedIds, purgeMatching, UNREADABLE, type MatchCount, type MessageList, type PurgeFilter } from '../filteredPurge.js';
import { pickleStrings } from '../pickleStrings.js';
import { scrub } from '../../redact/redact.js';
import { pickleRqCall } from './pickle.js';
import { RATE_LIMIT_LUA, rlNow } from './rateLimits.js';
import { RedisEngineDriver } from '../redisDriver.js';
import { NoPayload, type Dispatch, type EngineDriver, type Purged, type Requeued, type RetryPayload, type TaskRef } from '../driver.js';
import type { WorkerAction } from '../capabilities.js';

const JOB = 'rq:job:';
const QUEUE = 'rq:queue:';
const QUEUES_SET = 'rq:queues';

/** ISO 8601 as RQ writes it (utcformat): microseconds, trailing Z. */
const rqNow = () => new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/**
 * Cancels a job that has not started: out of its queue, the deferred / scheduled registries or its
 * rate limit's waiting set, into canceled; a slot it held goes to the next waiting job. A job still
 * marked queued but in none of them was popped by a worker (RQ moves it to the queue's
 * intermediate list and marks it started only later): it is about to run, so it is left alone
 * ('taken'), never reported cancelled.
 */
const CANCEL = `${RATE_LIMIT_LUA}
local job = KEYS[1]
local id = ARGV[1]
local status = redis.call('HGET', job, 'status')
if not status then return 'missing' end
local origin, limit = unpack(redis.call('HMGET', job, 'origin', 'rate_limit_key'))
local removed = 0
if status == 'rate_limited' and limit then
  removed = redis.call('ZREM', 'rq:rl:' .. limit .. ':rate_limited', id)
elseif status == 'queued' or status == 'deferred' or status == 'scheduled' then
  removed = redis.call('LREM', 'rq:queue:' .. origin, 0, id)
    + redis.call('ZREM', 'rq:deferred:' .. origin, id)
    + redis.call('ZREM', 'rq:scheduled:' .. origin, id)
else
  return status
end
if removed == 0 then return 'taken' end
redis.call('HSET', job, 'status', 'canceled')
redis.call('ZADD', 'rq:canceled:' .. origin, ARGV[2], id)
if limit then rl_release(limit, id, ARGV[2], ARGV[3]) end
return 'ok'`;

/**
 * A new job with the original's exact serialized call (its `data`), fresh state, at the back of
 * its queue, with the original's options, callbacks and rate limit (RQ 3's job hash). Not its
 * retry or repeat settings: those left of a failed job are spent, so the new job runs once, as
 * RQ's own requeue of a failed job does. A rate-limited job waits for a slot, as at its enqueue.
 */
const CLONE = `${RATE_LIMIT_LUA}
local src, dst = KEYS[1], KEYS[2]
if redis.call('EXISTS', src) == 0 then return false end
if redis.call('EXISTS', dst) == 1 then return 'exists' end
local keep = {'data', 'origin', 'description', 'timeout', 'result_ttl', 'failure_ttl', 'ttl', 'meta',
              'success_callback_name', 'failure_callback_name', 'stopped_callback_name',
              'success_callback_timeout', 'failure_callback_timeout', 'stopped_callback_timeout', 'webhooks',
              'rate_limit_key', 'rate_limit_concurrency'}
for _, field in ipairs(keep) do
  local v = redis.call('HGET', src, field)
  if v then redis.call('HSET', dst, field, v) end
end
local origin = redis.call('HGET', src, 'origin')
redis.call('HSET', dst, 'status', 'queued', 'created_at', ARGV[2], 'enqueued_at', ARGV[2],
           'started_at', '', 'ended_at', '', 'last_heartbeat', '', 'worker_name', '', 'group_id', '')
redis.call('SADD', '${QUEUES_SET}', 'rq:queue:' .. origin)
local limit, concurrency = unpack(redis.call('HMGET', src, 'rate_limit_key', 'rate_limit_concurrency'))
if limit then
  rl_wait(limit, concurrency, ARGV[1], ARGV[3], ARGV[2])
else
  redis.call('RPUSH', 'rq:queue:' .. origin, ARGV[1])
end
return origin`;

/**
 * A new job from a call (a schedule's), as RQ's Queue.enqueue writes one: the pickled call
 * zlib-compressed as `data`, queued at the back of its queue. Never over an existing job.
 */
const NEW_JOB = `
local job, queue = KEYS[1], KEYS[2]
if redis.call('EXISTS', job) == 1 then return 'exists' end
redis.call('HSET', job, 'data', ARGV[1], 'origin', ARGV[2], 'description', ARGV[3], 'timeout', ARGV[4], 'status', 'queued',
           'created_at', ARGV[5], 'enqueued_at', ARGV[5], 'started_at', '', 'ended_at', '', 'last_heartbeat', '', 'worker_name', '', 'group_id', '',
           'success_callback_name', '', 'failure_callback_name', '', 'stopped_callback_name', '')
redis.call('SADD', '${QUEUES_SET}', queue)
redis.call('RPUSH', queue, ARGV[6])
return 'ok'`;

/** RQ's default queue, and the timeout its Queue gives a job that names none (Queue.DEFAULT_TIMEOUT). */
const DEFAULT_QUEUE = 'default';
const DEFAULT_TIMEOUT_S = 180;

/** What RQ shows as a job's description (its call string), with the arguments redacted as z4j shows them. */
function callString(p: RetryPayload): string {
  // Scrubbed whole, so that a value is hidden by its key too (password="…"): RQ workers log the
  // description of every job they run, and dashboards show it.
  const args = scrub(p.args) as unknown[];
  const kwargs = scrub(p.kwargs) as Record<string, unknown>;
  const parts = [...args.map((v) => JSON.stringify(v)), ...Object.entries(kwargs).map(([k, v]) => `${k}=${JSON.stringify(v)}`)];
  return `${p.name}(${parts.join(', ')})`.slice(0, 1024);
}

/**
 * Empties a queue the way RQ's Queue.empty() does: the ids and the jobs they name. The slots the
 * jobs held under rate limits go to waiting jobs once the queue is empty (RQ's own empty leaves
 * them to its maintenance).
 */
const PURGE = `${RATE_LIMIT_LUA}
local ids, held = {}, {}
while true do
  local id = redis.call('LPOP', KEYS[1])
  if not id then break end
  local limit = redis.call('HGET', '${JOB}' .. id, 'rate_limit_key')
  if limit then held[#held + 1] = {limit, id} end
  redis.call('DEL', '${JOB}' .. id, '${JOB}' .. id .. ':dependents')
  ids[#ids + 1] = id
end
for _, h in ipairs(held) do rl_release(h[1], h[2], ARGV[1], ARGV[2]) end
return ids`;

/** Waiting jobs into the free slots of every rate limit key, as RQ's maintenance does. */
const ADMIT_WAITING = `${RATE_LIMIT_LUA}
for _, limit in ipairs(redis.call('SMEMBERS', 'rq:rl-keys')) do rl_admit(limit, ARGV[1], ARGV[2]) end`;

/**
 * Failed jobs back on their queue, as FailedJobRegistry.requeue does for each: a rate-limited one
 * waits for a slot, as at its enqueue.
 */
const REQUEUE_FAILED = `${RATE_LIMIT_LUA}
local failed, queue = KEYS[1], KEYS[2]
local ids = redis.call('ZRANGE', failed, 0, -1)
local n = 0
for _, id in ipairs(ids) do
  local job = '${JOB}' .. id
  if redis.call('EXISTS', job) == 1 then
    redis.call('HSET', job, 'status', 'queued', 'started_at', '', 'ended_at', '', 'exc_info', '', 'enqueued_at', ARGV[1])
    local limit, concurrency = unpack(redis.call('HMGET', job, 'rate_limit_key', 'rate_limit_concurrency'))
    if limit then rl_wait(limit, concurrency, id, ARGV[2], ARGV[1]) else redis.call('RPUSH', queue, id) end
    n = n + 1
  end
  redis.call('ZREM', failed, id)
end
if n > 0 then redis.call('SADD', '${QUEUES_SET}', queue) end
return n`;

/**
 * The function name of a job from its `data` (zlib of the serialized (func_name, instance, args,
 * kwargs)): read from the pickle's opcodes without unpickling it, or from JSONSerializer's JSON.
 */
export function rqFuncName(data: Buffer): string | null {
  try {
    const raw = inflateSync(data);
    if (raw[0] === 0x80) return pickleStrings(raw, 1)[0] ?? null;
    const call = JSON.parse(raw.toString('utf8'));
    return Array.isArray(call) && typeof call[0] === 'string' ? call[0] : null;
  } catch {
    return null;
  }
}

export class RqDriver extends RedisEngineDriver implements EngineDriver {
  readonly engine = 'rq' as const;
  readonly capabilities = {
    'task.retry': { via: 'broker', note: "a new job with the original's exact serialized call, while RQ still keeps the original job (failure_ttl, result_ttl); a schedule's call is pickled by z4j (JSON values: lists, dicts, strings, numbers, booleans, None), for workers with RQ's default pickle serializer" },
    'task.cancel': { via: 'broker', note: "queued, deferred or scheduled jobs, and jobs waiting for a slot of their rate limit (RQ 3); a slot the job held goes to the next waiting job" },
    'task.terminate': { via: 'broker', note: "stop-job: the worker kills the job's work horse (z4j's Z4jSimpleWorker, which has none, stops the job's thread; RQ's own SimpleWorker cannot stop a job)" },
    'queue.purge': { via: 'broker' },
    'queue.purge_filtered': { via: 'broker', note: "by function name, read from the job's pickle without unpickling it; the removed jobs are deleted as by a purge" },
    'queue.requeue_dead_letters': { via: 'broker', note: "the queue's failed job registry, as RQ's own requeue: each runs once more (its retries are spent)" },
    'worker.shutdown': { via: 'broker', note: 'warm shutdown: the current job finishes first' },
  } as const;

  constructor(url: string) {
    super(url, 'z4j-rq-driver');
  }

  /**
   * A retry copies the original job's serialized call (any pickle RQ made, not only JSON-shaped
   * values); a call of z4j's own (a schedule's, `original` null) is pickled here.
   */
  async retry(payload: RetryPayload | null, newTaskId: string, original: TaskRef | null): Promise<Dispatch> {
    if (!original) return this.enqueueCall(payload, newTaskId);
    const origin = await this.redis.eval(CLONE, 2, JOB + original.taskId, JOB + newTaskId, newTaskId, rqNow(), rlNow());
    // Without the original job RQ's pickled call is gone. The agent's payload is not a substitute:
    // it is JSON (a datetime or Decimal argument would arrive as a string), so nothing is sent.
    if (origin === null) {
      throw new NoPayload(`RQ no longer keeps job ${original.taskId}, so its exact call is gone: RQ deletes a finished job after its result_ttl (500 s by default) and a failed one after its failure_ttl (1 year by default), or when its registry is cleaned`);
    }
    if (origin === 'exists') throw new Error(`job ${newTaskId} already exists`);
    return { detail: { newTaskId, queue: origin } };
  }

  private async enqueueCall(payload: RetryPayload | null, newTaskId: string): Promise<Dispatch> {
    if (!payload) throw new NoPayload();
    const queue = payload.queue ?? DEFAULT_QUEUE;
    const data = deflateSync(pickleRqCall(payload.name, payload.args, payload.kwargs));
    const timeout = typeof payload.options?.timeout === 'number' ? payload.options.timeout : DEFAULT_TIMEOUT_S;
    const r = await this.redis.eval(NEW_JOB, 2, JOB + newTaskId, QUEUE + queue, data, queue, callString(payload), String(timeout), rqNow(), newTaskId);
    if (r === 'exists') throw new Error(`job ${newTaskId} already exists`);
    return { detail: { newTaskId, queue } };
  }

  async cancel(task: TaskRef): Promise<Dispatch> {
    // Whole seconds score both the canceled registry and the rate limit sets.
    const result = await this.redis.eval(CANCEL, 1, JOB + task.taskId, task.taskId, rlNow(), rqNow());
    if (result === 'taken') throw new Error('a worker has just taken the job from its queue, so it is about to run: terminate it instead');
    if (result !== 'ok') throw new Error(result === 'missing' ? 'RQ no longer has this job' : `RQ says the job is ${result}: only queued, deferred, scheduled or rate-limited jobs can be cancelled`);
    return { confirmed: true, detail: { rqStatus: 'canceled' } };
  }

  async terminate(task: TaskRef): Promise<Dispatch> {
    const worker = await this.redis.hget(JOB + task.taskId, 'worker_name');
    if (!worker) throw new Error('RQ says no worker is running this job');
    await this.redis.publish(`rq:pubsub:${worker}`, JSON.stringify({ command: 'stop-job', job_id: task.taskId }));
    return { detail: { worker } };
  }

  async purgeQueue(queue: string): Promise<Purged> {
    return purgedIds((await this.redis.eval(PURGE, 1, QUEUE + queue, rlNow(), rqNow())) as string[]);
  }

  private lists(queue: string): MessageList[] {
    return [{
      key: QUEUE + queue,
      producerEnd: 'right',
      read: async (ids) => {
        const tx = this.redis.pipeline();
        for (const id of ids) tx.hgetBuffer(JOB + id.toString('utf8'), 'data');
        return ((await tx.exec()) ?? []).map(([err, data], i) => (err ? UNREADABLE : data === null ? GONE : { name: rqFuncName(data as Buffer), taskId: ids[i]!.toString('utf8') }));
      },
      // A rate-limited job's slot is freed here; waiting jobs move in after the list is rebuilt.
      cleanup: `local limit = redis.call('HGET', '${JOB}' .. member, 'rate_limit_key')
        if limit then redis.call('ZREM', 'rq:rl:' .. limit .. ':allowed', member) end
        redis.call('DEL', '${JOB}' .. member, '${JOB}' .. member .. ':dependents')`,
    }];
  }

  async countMatching(queue: string, filter: PurgeFilter): Promise<MatchCount> {
    return countMatching(this.redis, this.lists(queue), filter);
  }

  async purgeMatching(queue: string, filter: PurgeFilter): Promise<Purged> {
    const purged = await purgeMatching(this.redis, this.lists(queue), filter);
    if (purged.purged > 0) await this.redis.eval(ADMIT_WAITING, 0, rlNow(), rqNow());
    return purged;
  }

  async requeueDeadLetters(queue: string): Promise<Requeued> {
    return { requeued: Number(await this.redis.eval(REQUEUE_FAILED, 2, `rq:failed:${queue}`, QUEUE + queue, rqNow(), rlNow())) };
  }

  async queueDepth(queue: string): Promise<number | null> {
    return this.redis.llen(QUEUE + queue);
  }

  async workerControl(hostname: string, action: WorkerAction): Promise<Dispatch> {
    if (action !== 'shutdown') throw new Error(`RQ workers have no ${action}`);
    const listening = await this.redis.publish(`rq:pubsub:${hostname}`, JSON.stringify({ command: 'shutdown' }));
    if (!listening) throw new Error(`no RQ worker named ${hostname} is listening`);
    return {};
  }
}

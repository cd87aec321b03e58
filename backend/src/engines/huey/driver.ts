// Huey over its RedisStorage (huey 3): a queue is the list `huey.redis.<name>` of pickled
// messages, results and revocations live in the hash `huey.results.<name>`. A revocation is
// the entry `r:<task id>` holding the pickle of (revoke_until, revoke_once) — written here
// byte for byte as Huey's own `Result.revoke()` writes (None, True) — and the consumer skips
// the task when it comes up and deletes the entry (revoked once: a revocation for good would
// stay in the hash forever, since the skipped task never runs to clear it). The queue name is
// the storage's name, as the agent reports it: the Huey instance's name without the characters
// RedisStorage drops (all but [A-Za-z0-9_]).
// Messages are pickled Python objects, so a retry is the agent's job (it enqueues a new task of
// the same task class inside a consumer), and so is stopping a running task (Huey has no way to
// interrupt one from outside; the agent raises CancelExecution in the worker's thread, or in
// its greenlet where it waits with greenlet workers).
import { gunzipSync, inflateSync } from 'node:zlib';
import { countMatching, purgeMatching, purgeWhole, UNREADABLE, type MatchCount, type MessageList, type PurgeFilter, type WaitingTask } from '../filteredPurge.js';
import { pickleStrings } from '../pickleStrings.js';
import { RedisEngineDriver } from '../redisDriver.js';
import { needAgent, NoPayload, type AgentChannel, type Dispatch, type EngineDriver, type Purged, type RetryPayload, type TaskRef } from '../driver.js';

// A Huey queue is a list (RedisHuey, RedisExpireHuey) or, with the priority storages, a sorted
// set of messages: both emptied whole (purgeWhole) and counted by what the key holds.
const QUEUE_DEPTH = `
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'list' then return redis.call('LLEN', KEYS[1]) elseif kind == 'zset' then return redis.call('ZCARD', KEYS[1]) elseif kind == 'none' then return 0 end
return -1`;

/** pickle.dumps((None, True), protocol 5), as Huey's default serializer writes it. */
const REVOKE_ONCE = Buffer.from([0x80, 0x05, 0x95, 0x05, 0, 0, 0, 0, 0, 0, 0, 0x4e, 0x88, 0x86, 0x94, 0x2e]);
/** How long the revocation written for the expiring storages lives when the consumer is not one (it is never read then). */
const EXPIRE_STORAGE_REVOKE_S = 30 * 86_400;

/**
 * The task id and name of a pickled `huey.registry.Message(id, name, …)`, read from the pickle's
 * opcodes (the class reference, then the id, then the name) without unpickling it; Huey's
 * optional gzip / zlib compression is undone first. Unreadable when the shape is not that.
 */
export function hueyTask(raw: Buffer): WaitingTask {
  try {
    const data = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw[0] === 0x78 ? inflateSync(raw) : raw;
    const strings = pickleStrings(data, 4);
    if (strings[0] !== 'huey.registry' || strings[1] !== 'Message') return UNREADABLE;
    return { taskId: strings[2] ?? null, name: strings[3] ?? null };
  } catch {
    return UNREADABLE;
  }
}

export class HueyDriver extends RedisEngineDriver implements EngineDriver {
  readonly engine = 'huey' as const;
  readonly capabilities = {
    'task.retry': { via: 'agent', note: 'a new task with the exact args / kwargs the agent captured, enqueued by the agent in a live consumer of the same Huey instance (RedisHuey)' },
    'task.cancel': { via: 'broker', note: "Huey's revoke: the consumer skips the task when it comes up (Huey's Redis storages)" },
    'task.terminate': { via: 'agent', note: "Huey's CancelExecution raised in the task's thread at its next Python instruction (a blocking call such as one long sleep delays it), or with greenlet workers in its greenlet where it waits; not retried" },
    'queue.purge': { via: 'broker', note: "Huey's Redis storages, the priority ones included" },
    'queue.purge_filtered': { via: 'broker', note: "by task name, read from the message's pickle opcodes without unpickling it (RedisHuey and RedisExpireHuey, default pickle serializer; not the priority storages)" },
  } as const;

  constructor(url: string) {
    super(url, 'z4j-huey-driver');
  }

  async retry(payload: RetryPayload | null, newTaskId: string, original: TaskRef | null, agent?: AgentChannel): Promise<Dispatch> {
    if (!payload) throw new NoPayload();
    const queue = payload.queue ?? original?.queue ?? null;
    const args = { taskId: newTaskId, name: payload.name, args: payload.args, kwargs: payload.kwargs, options: payload.options ?? {}, retryOf: original?.taskId ?? null };
    const { worker } = await needAgent(agent, this.engine).send('retry', args, { queue });
    return { awaitsAgent: true, detail: { newTaskId, queue, worker } };
  }

  async terminate(task: TaskRef, agent?: AgentChannel): Promise<Dispatch> {
    if (!task.worker) throw new Error('z4j does not know which consumer runs this task');
    const { worker } = await needAgent(agent, this.engine).send('terminate', { taskId: task.taskId }, { worker: task.worker });
    return { awaitsAgent: true, detail: { worker } };
  }

  async cancel(task: TaskRef): Promise<Dispatch> {
    if (!task.queue) throw new Error('z4j does not know which Huey instance (queue) this task belongs to');
    // Where the consumer looks depends on the storage, which z4j cannot see from here: the
    // results hash (RedisHuey, PriorityRedisHuey) or one key per entry (RedisExpireHuey and its
    // priority variant). Both are written; each storage reads (and, skipping the task, deletes)
    // only its own. The key expires, bounding what is left when it is not the consumer's (a
    // hash field cannot expire on every Redis: left when the consumer is an expiring storage).
    await this.redis
      .multi()
      .hset(`huey.results.${task.queue}`, `r:${task.taskId}`, REVOKE_ONCE)
      .set(`huey.r.${task.queue}.r:${task.taskId}`, REVOKE_ONCE, 'EX', EXPIRE_STORAGE_REVOKE_S)
      .exec();
    return {};
  }

  async purgeQueue(queue: string): Promise<Purged> {
    // A priority queue's members are the message after an 8-byte time prefix (RedisPriorityQueue).
    return purgeWhole(this.redis, [`huey.redis.${queue}`], (raws, kind) => raws.map((raw) => hueyTask(kind === 'zset' ? raw.subarray(8) : raw).taskId));
  }

  /** The queue as a list of messages: the priority storages keep a sorted set, which a filtered purge does not read. */
  private async lists(queue: string): Promise<MessageList[]> {
    const key = `huey.redis.${queue}`;
    if ((await this.redis.type(key)) === 'zset') {
      throw new Error(`Huey queue ${queue} is a priority queue (PriorityRedisHuey): z4j purges it whole, not by task name`);
    }
    return [{ key, producerEnd: 'left', read: async (raws) => raws.map(hueyTask) }];
  }

  async countMatching(queue: string, filter: PurgeFilter): Promise<MatchCount> {
    return countMatching(this.redis, await this.lists(queue), filter);
  }

  async purgeMatching(queue: string, filter: PurgeFilter): Promise<Purged> {
    return purgeMatching(this.redis, await this.lists(queue), filter);
  }

  async queueDepth(queue: string): Promise<number | null> {
    const depth = Number(await this.redis.eval(QUEUE_DEPTH, 1, `huey.redis.${queue}`));
    return depth < 0 ? null : depth;
  }
}

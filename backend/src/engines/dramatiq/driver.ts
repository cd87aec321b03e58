// Dramatiq over its Redis broker (dramatiq 2.x layout, under its namespace, "dramatiq" unless set): a queue is a
// list of redis message ids `ns:q` plus a hash `ns:q.msgs` of id → message JSON; delayed
// messages live in `ns:q.DQ`; dead letters in the sorted set `ns:q.XQ` and hash `ns:q.XQ.msgs`.
// Messages are plain JSON, so a retry is built from the sealed payload like Dramatiq's own
// `Actor.send` would build it. Multi-key changes run as Lua, atomically against workers.
// Dramatiq cannot stop a running message from outside its worker: terminate goes through the
// agent, which raises an Interrupt in the worker thread running it (as Dramatiq's TimeLimit).
import { randomUUID } from 'node:crypto';
import { countMatching, GONE, purgedIds, purgeMatching, UNREADABLE, type MatchCount, type MessageList, type PurgeFilter, type WaitingTask } from '../filteredPurge.js';
import { RedisEngineDriver } from '../redisDriver.js';
import { countRequeue, dramatiqMessage } from './message.js';
import { NoAgentRoute } from '../../actions/agentCommands.js';
import { AGENT_CANCEL_NOTE, cancelInWorkers, NoPayload, terminateInWorker, type AgentChannel, type Dispatch, type EngineDriver, type Purged, type Requeued, type RetryPayload, type TaskRef } from '../driver.js';

/** Largest queue a cancel searches (a Lua scan blocks Redis while it runs). */
const MAX_CANCEL_SCAN = 50_000;

/** Removes the message whose message_id is ARGV[1] from a queue and its delayed queue. */
const CANCEL = `
for _, q in ipairs({KEYS[1], KEYS[2]}) do
  local msgs = q .. '.msgs'
  if redis.call('LLEN', q) > tonumber(ARGV[2]) then return 'too_big' end
  for _, rid in ipairs(redis.call('LRANGE', q, 0, -1)) do
    local data = redis.call('HGET', msgs, rid)
    if data and cjson.decode(data)['message_id'] == ARGV[1] then
      redis.call('LREM', q, 0, rid)
      redis.call('HDEL', msgs, rid)
      return 'ok'
    end
  end
end
return 'not_queued'`;

/**
 * Empties a queue and its delayed queue: the waiting ids and their messages, not those in flight.
 * Returns how many it removed, then the message ids of those that are JSON (read only, never
 * re-encoded: cjson would turn an empty list into an object).
 */
const PURGE = `
local n, ids = 0, {}
for _, q in ipairs({KEYS[1], KEYS[2]}) do
  local msgs = q .. '.msgs'
  while true do
    local rid = redis.call('LPOP', q)
    if not rid then break end
    local data = redis.call('HGET', msgs, rid)
    local ok, message = pcall(cjson.decode, data or '')
    if ok and type(message) == 'table' and type(message['message_id']) == 'string' then ids[#ids + 1] = message['message_id'] end
    redis.call('HDEL', msgs, rid)
    n = n + 1
  end
end
return {n, ids}`;

/**
 * Dead letters back on their queue: ARGV holds (redis id, the letter as read, what to send) for
 * each. A letter that changed since it was read (Dramatiq's own cleanup removed it) is left to
 * Dramatiq; one whose data is gone is dropped from the XQ. Returns the positions (1-based) of the
 * triples it moved.
 */
const REQUEUE_XQ = `
local q, xq = KEYS[1], KEYS[2]
local moved = {}
for i = 1, #ARGV, 3 do
  local rid = ARGV[i]
  local data = redis.call('HGET', xq .. '.msgs', rid)
  if not data then
    redis.call('ZREM', xq, rid)
  elseif data == ARGV[i + 1] then
    redis.call('HSET', q .. '.msgs', rid, ARGV[i + 2])
    redis.call('RPUSH', q, rid)
    redis.call('ZREM', xq, rid)
    redis.call('HDEL', xq .. '.msgs', rid)
    moved[#moved + 1] = (i + 2) / 3
  end
end
return moved`;
/** Letters read and moved per script: a script blocks Redis while it runs. */
const REQUEUE_BATCH = 500;

const ENQUEUE = `
redis.call('HSET', KEYS[1] .. '.msgs', ARGV[1], ARGV[2])
redis.call('RPUSH', KEYS[1], ARGV[1])
return 1`;

/** The actor and message id of a message in Dramatiq's JSON encoding (null each for another encoder). */
function messageTask(data: string): WaitingTask {
  try {
    const message = JSON.parse(data);
    const text = (v: unknown) => (typeof v === 'string' ? v : null);
    return { name: text(message?.actor_name), taskId: text(message?.message_id) };
  } catch {
    return UNREADABLE;
  }
}

/** How the agent stops a Dramatiq message, on either broker. */
export const TERMINATE_NOTE = "CPython: an Interrupt raised in the worker thread at its next Python instruction, as Dramatiq's TimeLimit does (a blocking call such as one long sleep delays it), or under gevent in its greenlet where it waits; the message is dead-lettered, not retried";

export class DramatiqDriver extends RedisEngineDriver implements EngineDriver {
  readonly engine = 'dramatiq' as const;
  readonly capabilities = {
    'task.retry': { via: 'broker', note: 'a new message built from the payload the z4j agent captured (Redis broker)' },
    'task.cancel': { via: 'broker', note: `messages still waiting in their queue (Redis broker); one a worker already took and has not started (Dramatiq prefetches, delayed messages and retries above all) ${AGENT_CANCEL_NOTE}` },
    'task.terminate': { via: 'agent', note: `Redis broker, ${TERMINATE_NOTE}` },
    'queue.purge': { via: 'broker', note: 'waiting and delayed messages; dead letters stay (Redis broker)' },
    'queue.purge_filtered': { via: 'broker', note: 'by actor name; waiting and delayed messages (Redis broker)' },
    'queue.requeue_dead_letters': { via: 'broker', note: 'the queue’s XQ (Redis broker); each runs once more, as the next attempt (the requeue counted in its options for the agent): its retries are spent, so a new failure dead-letters it again' },
  } as const;

  constructor(url: string, private readonly namespace = 'dramatiq') {
    super(url, 'z4j-dramatiq-driver');
  }

  private key(queue: string): string {
    return `${this.namespace}:${queue}`;
  }

  async retry(payload: RetryPayload | null, newTaskId: string, original: TaskRef | null): Promise<Dispatch> {
    if (!payload) throw new NoPayload();
    const queue = payload.queue ?? original?.queue ?? 'default';
    const redisMessageId = randomUUID();
    const message = dramatiqMessage(payload, newTaskId, queue, { redis_message_id: redisMessageId });
    await this.redis.eval(ENQUEUE, 1, this.key(queue), redisMessageId, JSON.stringify(message));
    return { detail: { newTaskId, queue } };
  }

  async cancel(task: TaskRef, agent?: AgentChannel): Promise<Dispatch> {
    if (!task.queue) throw new Error('z4j does not know the queue of this message');
    const r = await this.redis.eval(CANCEL, 2, this.key(task.queue), this.key(`${task.queue}.DQ`), task.taskId, String(MAX_CANCEL_SCAN));
    if (r === 'too_big') throw new Error(`queue ${task.queue} holds more than ${MAX_CANCEL_SCAN} messages: purge it or wait`);
    if (r === 'ok') return { confirmed: true };
    if (!agent) throw new Error('the message is no longer waiting in its queue (a worker has it, or it ran)');
    // Not in Redis any more: it ran, or a worker holds it unstarted. Dramatiq's workers prefetch
    // (twice their threads from a queue, a thousand times from its delay queue, where retries
    // and delayed messages wait), so the agents of the queue's workers are told to skip it.
    try {
      return await cancelInWorkers(this.engine, task, agent);
    } catch (err) {
      if (!(err instanceof NoAgentRoute)) throw err;
      throw new NoAgentRoute(`the message is no longer waiting in its queue (a worker has it, or it ran), and ${err.message}`);
    }
  }

  async terminate(task: TaskRef, agent?: AgentChannel): Promise<Dispatch> {
    return terminateInWorker(this.engine, task, agent, 'message');
  }

  async purgeQueue(queue: string): Promise<Purged> {
    const [purged, ids] = (await this.redis.eval(PURGE, 2, this.key(queue), this.key(`${queue}.DQ`))) as [number, string[]];
    return { ...purgedIds(ids), purged };
  }

  /** The queue and its delayed queue: lists of redis message ids, the messages in `<list>.msgs`. */
  private lists(queue: string): MessageList[] {
    return [this.key(queue), this.key(`${queue}.DQ`)].map((key) => ({
      key,
      producerEnd: 'right' as const,
      read: async (ids: Buffer[]) => (await this.redis.hmget(`${key}.msgs`, ...ids.map((id) => id.toString('utf8')))).map((data) => (data === null ? GONE : messageTask(data))),
      cleanup: "redis.call('HDEL', KEYS[1] .. '.msgs', member)",
    }));
  }

  async countMatching(queue: string, filter: PurgeFilter): Promise<MatchCount> {
    return countMatching(this.redis, this.lists(queue), filter);
  }

  async purgeMatching(queue: string, filter: PurgeFilter): Promise<Purged> {
    return purgeMatching(this.redis, this.lists(queue), filter);
  }

  /**
   * The letters dead when it starts, back on their queue with one requeue more counted in their
   * options (countRequeue), so that the agent reports each rerun as a new attempt.
   */
  async requeueDeadLetters(queue: string): Promise<Requeued> {
    const [q, xq] = [this.key(queue), this.key(`${queue}.XQ`)];
    const rids = await this.redis.zrange(xq, 0, '-1');
    const done: Requeued = { requeued: 0, tasks: [] };
    for (let i = 0; i < rids.length; i += REQUEUE_BATCH) {
      const batch = rids.slice(i, i + REQUEUE_BATCH);
      const letters = await this.redis.hmgetBuffer(`${xq}.msgs`, ...batch);
      const edits = letters.map((letter) => (letter ? countRequeue(letter) : null));
      const args = batch.flatMap((rid, j) => [rid, letters[j] ?? '', edits[j]?.message ?? letters[j] ?? '']);
      const moved = (await this.redis.eval(REQUEUE_XQ, 2, q, xq, ...args)) as number[];
      done.requeued += moved.length;
      for (const at of moved) {
        const edit = edits[at - 1];
        if (edit) done.tasks!.push({ taskId: edit.taskId, attempt: edit.attempt });
      }
    }
    return done;
  }

  async queueDepth(queue: string): Promise<number | null> {
    const [a, b] = await Promise.all([this.redis.llen(this.key(queue)), this.redis.llen(this.key(`${queue}.DQ`))]);
    return a + b;
  }
}

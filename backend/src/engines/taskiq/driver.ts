// taskiq over taskiq-redis's ListQueueBroker: a queue is a Redis list the broker LPUSHes
// messages onto and workers BRPOP, each message the JSON of a TaskiqMessage
// ({task_id, task_name, labels, labels_types, args, kwargs}) — open enough to build a retry
// from the sealed payload and to find one message to cancel. Stopping a running task needs the
// worker itself: the agent cancels the asyncio task running it. A sync task function runs in
// taskiq's thread pool, where nothing can stop it (the agent refuses, and says so).
import { countMatching, purgeMatching, type MatchCount, type MessageList, type PurgeFilter } from '../filteredPurge.js';
import { PURGE_LIST, RedisEngineDriver } from '../redisDriver.js';
import { NoPayload, terminateInWorker, type AgentChannel, type Dispatch, type EngineDriver, type RetryPayload, type TaskRef } from '../driver.js';

export const DEFAULT_QUEUE = 'taskiq';

/** How the agent stops a taskiq task, on either broker. */
export const TERMINATE_NOTE = 'async task functions only: the asyncio task running it is cancelled; a sync function in the thread pool cannot be stopped';

/**
 * taskiq's wire message (what `kiq()` sends, on every broker) for the sealed payload, as a new
 * task. Labels travel as text; `labels_types` (the agent's copy of the original's) tells the
 * worker what to parse them back to (a bool label stays a bool, not the text "False").
 */
export function taskiqMessage(payload: RetryPayload, newTaskId: string) {
  const labels = (payload.options?.labels as Record<string, unknown> | undefined) ?? {};
  const types = (payload.options?.labels_types as Record<string, number> | undefined) ?? null;
  return { task_id: newTaskId, task_name: payload.name, labels, labels_types: types, args: payload.args, kwargs: payload.kwargs };
}
const MAX_CANCEL_SCAN = 50_000;

const CANCEL = `
if redis.call('LLEN', KEYS[1]) > tonumber(ARGV[2]) then return 'too_big' end
for _, raw in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local ok, msg = pcall(cjson.decode, raw)
  if ok and type(msg) == 'table' and msg['task_id'] == ARGV[1] then
    redis.call('LREM', KEYS[1], 1, raw)
    return 'ok'
  end
end
return 'not_queued'`;

function taskName(raw: Buffer): string | null {
  try {
    const name = JSON.parse(raw.toString('utf8'))?.task_name;
    return typeof name === 'string' ? name : null;
  } catch {
    return null;
  }
}

export class TaskiqDriver extends RedisEngineDriver implements EngineDriver {
  readonly engine = 'taskiq' as const;
  readonly capabilities = {
    'task.retry': { via: 'broker', note: 'a new message built from the payload the z4j agent captured (taskiq-redis ListQueueBroker)' },
    'task.cancel': { via: 'broker', note: 'messages still waiting in their list (taskiq-redis ListQueueBroker)' },
    'task.terminate': { via: 'agent', note: `taskiq-redis: ${TERMINATE_NOTE}` },
    'queue.purge': { via: 'broker', note: 'taskiq-redis ListQueueBroker' },
    'queue.purge_filtered': { via: 'broker', note: 'by task name (taskiq-redis ListQueueBroker)' },
  } as const;

  constructor(url: string) {
    super(url, 'z4j-taskiq-driver');
  }

  /**
   * Refuses a queue that is not a ListQueueBroker list. taskiq-redis's other brokers use the
   * same name differently: RedisStreamBroker a stream (a list command fails on it), PubSubBroker
   * a channel its workers subscribe to, where a pushed message would sit in a list no worker
   * reads while the retry reported success. The channel's subscribers give that one away.
   */
  private async requireList(queue: string): Promise<void> {
    const [type, subscribed] = await Promise.all([this.redis.type(queue), this.redis.pubsub('NUMSUB', queue) as Promise<[string, number]>]);
    if (type !== 'list' && type !== 'none') {
      throw new Error(`taskiq queue ${queue} is a Redis ${type}${type === 'stream' ? ' (taskiq-redis RedisStreamBroker)' : ''}: z4j acts on ListQueueBroker queues only`);
    }
    if (Number(subscribed[1]) > 0) {
      throw new Error(`taskiq queue ${queue} is a pub/sub channel its workers subscribe to (taskiq-redis PubSubBroker): z4j acts on ListQueueBroker queues only (pub/sub keeps no waiting message to retry into, cancel or purge)`);
    }
  }

  async retry(payload: RetryPayload | null, newTaskId: string, original: TaskRef | null): Promise<Dispatch> {
    if (!payload) throw new NoPayload();
    const queue = payload.queue ?? original?.queue ?? DEFAULT_QUEUE;
    await this.requireList(queue);
    await this.redis.lpush(queue, JSON.stringify(taskiqMessage(payload, newTaskId)));
    return { detail: { newTaskId, queue } };
  }

  async cancel(task: TaskRef): Promise<Dispatch> {
    await this.requireList(task.queue ?? DEFAULT_QUEUE);
    const r = await this.redis.eval(CANCEL, 1, task.queue ?? DEFAULT_QUEUE, task.taskId, String(MAX_CANCEL_SCAN));
    if (r === 'too_big') throw new Error(`queue holds more than ${MAX_CANCEL_SCAN} messages: purge it or wait`);
    if (r !== 'ok') throw new Error('the message is no longer waiting in its queue (a worker has it, or it ran)');
    return { confirmed: true };
  }

  async terminate(task: TaskRef, agent?: AgentChannel): Promise<Dispatch> {
    return terminateInWorker(this.engine, task, agent);
  }

  async purgeQueue(queue: string): Promise<Dispatch & { purged: number }> {
    await this.requireList(queue);
    return { purged: Number(await this.redis.eval(PURGE_LIST, 1, queue)) };
  }

  private lists(queue: string): MessageList[] {
    return [{ key: queue, producerEnd: 'left', names: async (raws) => raws.map(taskName) }];
  }

  async countMatching(queue: string, filter: PurgeFilter): Promise<MatchCount> {
    await this.requireList(queue);
    return countMatching(this.redis, this.lists(queue), filter);
  }

  async purgeMatching(queue: string, filter: PurgeFilter): Promise<Dispatch & { purged: number }> {
    await this.requireList(queue);
    return { purged: await purgeMatching(this.redis, this.lists(queue), filter) };
  }

  /** Unknown (null) where the queue is not a ListQueueBroker list: a stream or a channel has no depth to read here. */
  async queueDepth(queue: string): Promise<number | null> {
    return this.requireList(queue).then(() => this.redis.llen(queue), () => null);
  }
}

// taskiq over taskiq-redis's ListQueueBroker: a queue is a Redis list the broker LPUSHes
// messages onto and workers BRPOP, each message a TaskiqMessage ({task_id, task_name, labels,
// labels_types, args, kwargs}) in the broker's serializer, JSON by default. z4j writes its
// retries as JSON, which a worker's agent converts for a broker with another serializer
// (agent: taskiq._in_broker_format); it reads a waiting message's id and name in any of taskiq's
// serializers (messages.ts) to cancel one or purge by name. Stopping a running task needs the
// worker itself: the agent cancels the asyncio task running it. A sync task function runs in
// taskiq's thread pool, where nothing can stop it (the agent refuses, and says so).
import { countMatching, purgeMatching, purgeWhole, UNREADABLE, waitingPages, type MatchCount, type MessageList, type PurgeFilter } from '../filteredPurge.js';
import { RedisEngineDriver } from '../redisDriver.js';
import { readTaskiqMessage } from './messages.js';
import { AGENT_CANCEL_NOTE, cancelInWorkers, NoPayload, terminateInWorker, type AgentChannel, type Dispatch, type EngineDriver, type Purged, type RetryPayload, type TaskRef } from '../driver.js';

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
const NOT_WAITING = 'the message is no longer waiting in its queue (a worker has it, or it ran)';

export class TaskiqDriver extends RedisEngineDriver implements EngineDriver {
  readonly engine = 'taskiq' as const;
  readonly capabilities = {
    'task.retry': { via: 'broker', note: 'a new message built from the payload the z4j agent captured (taskiq-redis ListQueueBroker)' },
    'task.cancel': { via: 'broker', note: `messages still waiting in their list (taskiq-redis ListQueueBroker with any of taskiq's serializers: JSON, orjson, msgpack, CBOR, pickle); with a serializer of your own, when the message is not among those z4j can read: ${AGENT_CANCEL_NOTE}` },
    'task.terminate': { via: 'agent', note: `taskiq-redis: ${TERMINATE_NOTE}` },
    'queue.purge': { via: 'broker', note: 'taskiq-redis ListQueueBroker' },
    'queue.purge_filtered': { via: 'broker', note: "by task name (taskiq-redis ListQueueBroker), read from messages of any of taskiq's serializers (a pickle without unpickling it); messages of a serializer of your own are kept, and the preview counts them" },
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

  /**
   * Takes the task's message out of its list: the exact bytes found (LREM), so a worker that took
   * it meanwhile wins and the cancel says so. Where the list also holds messages z4j cannot read
   * (a serializer of the user's own), the task may be one of them: its workers'
   * agents are told to skip it instead, as on RabbitMQ.
   */
  async cancel(task: TaskRef, agent?: AgentChannel): Promise<Dispatch> {
    const queue = task.queue ?? DEFAULT_QUEUE;
    await this.requireList(queue);
    if ((await this.redis.llen(queue)) > MAX_CANCEL_SCAN) throw new Error(`queue holds more than ${MAX_CANCEL_SCAN} messages: purge it or wait`);
    let unreadable = 0;
    for await (const page of waitingPages(this.redis, this.list(queue), MAX_CANCEL_SCAN)) {
      for (const raw of page) {
        const message = readTaskiqMessage(raw);
        if (!message) unreadable++;
        else if (message.taskId === task.taskId) {
          if (await this.redis.lrem(queue, 1, raw)) return { confirmed: true };
          throw new Error(NOT_WAITING); // a worker took it meanwhile
        }
      }
    }
    if (!unreadable) throw new Error(NOT_WAITING);
    try {
      return await cancelInWorkers(this.engine, task, agent);
    } catch (err) {
      // The same error (its kind tells the caller what failed), saying why the agents were asked.
      if (err instanceof Error) err.message = `z4j cannot read ${unreadable} of the messages waiting in ${queue} (a serializer that is not taskiq's own), so the workers' agents were asked to skip it: ${err.message}`;
      throw err;
    }
  }

  async terminate(task: TaskRef, agent?: AgentChannel): Promise<Dispatch> {
    return terminateInWorker(this.engine, task, agent);
  }

  async purgeQueue(queue: string): Promise<Purged> {
    await this.requireList(queue);
    return purgeWhole(this.redis, [queue], (raws) => raws.map((raw) => readTaskiqMessage(raw)?.taskId ?? null));
  }

  /** A queue's list: taskiq-redis LPUSHes, workers BRPOP. */
  private list(queue: string): MessageList {
    return { key: queue, producerEnd: 'left', read: async (raws) => raws.map((raw) => {
      const message = readTaskiqMessage(raw);
      return message ? { name: message.taskName, taskId: message.taskId } : UNREADABLE;
    }) };
  }

  async countMatching(queue: string, filter: PurgeFilter): Promise<MatchCount> {
    await this.requireList(queue);
    return countMatching(this.redis, [this.list(queue)], filter);
  }

  async purgeMatching(queue: string, filter: PurgeFilter): Promise<Purged> {
    await this.requireList(queue);
    return purgeMatching(this.redis, [this.list(queue)], filter);
  }

  /** Unknown (null) where the queue is not a ListQueueBroker list: a stream or a channel has no depth to read here. */
  async queueDepth(queue: string): Promise<number | null> {
    return this.requireList(queue).then(() => this.redis.llen(queue), () => null);
  }
}

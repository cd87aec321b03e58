// Huey over its RedisStorage (huey 3): a queue is the list `huey.redis.<name>` of pickled
// messages, results and revocations live in the hash `huey.results.<name>`. A revocation is
// the entry `r:<task id>` holding the pickle of (revoke_until, revoke_once) — written here
// byte for byte as Huey's own `revoke_by_id(id)` writes (None, False) — and the consumer
// skips the task when it comes up. The queue name is the Huey instance's name.
import { PURGE_LIST, RedisEngineDriver } from '../redisDriver.js';
import type { Dispatch, EngineDriver, TaskRef } from '../driver.js';

/** pickle.dumps((None, False), protocol 5), as Huey's default serializer writes it. */
const REVOKE_FOREVER = Buffer.from([0x80, 0x05, 0x95, 0x05, 0, 0, 0, 0, 0, 0, 0, 0x4e, 0x89, 0x86, 0x94, 0x2e]);

export class HueyDriver extends RedisEngineDriver implements EngineDriver {
  readonly engine = 'huey' as const;
  readonly capabilities = {
    'task.cancel': { via: 'broker', note: "Huey's revoke: the consumer skips the task when it comes up (RedisHuey; the queue is the Huey name)" },
    'queue.purge': { via: 'broker', note: 'RedisHuey (not the priority storage)' },
  } as const;

  constructor(url: string) {
    super(url, 'z4j-huey-driver');
  }

  async cancel(task: TaskRef): Promise<Dispatch> {
    if (!task.queue) throw new Error('z4j does not know which Huey instance (queue) this task belongs to');
    await this.redis.hset(`huey.results.${task.queue}`, `r:${task.taskId}`, REVOKE_FOREVER);
    return {};
  }

  async purgeQueue(queue: string): Promise<Dispatch & { purged: number }> {
    return { purged: Number(await this.redis.eval(PURGE_LIST, 1, `huey.redis.${queue}`)) };
  }

  async queueDepth(queue: string): Promise<number | null> {
    return this.redis.llen(`huey.redis.${queue}`);
  }
}

// What the drivers of engines that live in Redis share: one lazily connected client, closed with the service.
import type { Redis } from 'ioredis';
import { newRedis } from '../redis.js';
import { commandKey } from '../actions/agentCommands.js';

export abstract class RedisEngineDriver {
  protected readonly redis: Redis;
  readonly commandChannel = 'redis' as const;

  constructor(url: string, connectionName: string) {
    this.redis = newRedis(url, { lazyConnect: true, maxRetriesPerRequest: 2, connectionName });
    this.redis.on('error', () => undefined); // surfaced by the command that fails
  }

  /** The agent command channel on Redis: a list per worker, the agent BRPOPs it; gone with its last command's expiry. */
  async deliverAgentCommand(project: string, worker: string, signed: string, ttlS: number): Promise<void> {
    const key = commandKey(project, worker);
    const results = await this.redis.multi().lpush(key, signed).expire(key, ttlS).exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('Redis did not take the command');
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
